# SSDLite-320 with FilterMobileViT-xs starting from MobileViT-xs's ImageNet-1k weights; COCO 2017
# (data/coco) at 320x320, MMDetection's SSDLite recipe (SGD, 600 epochs; a schedule made for
# training from scratch): ssdlite_mobilevit-xs-in1k-pre_8xb24-600e_coco.py with the filtered
# blocks (same weights, data and schedule). Convert the weights once:
#   python tools/model_converters/mobilevit_to_mmfilter.py mobilevit_xs.pt \
#       checkpoints/mobilevit-xs_mmfilter.pth
#   python tools/train.py configs/filtermobilevit/ssdlite_filtermobilevit-xs-in1k-pre_8xb24-600e_coco.py
_base_ = ['../mobilevit/ssdlite_mobilevit-xs-in1k-pre_8xb24-600e_coco.py']
model = dict(backbone=dict(type='FilterMobileViT'))
