# Faster R-CNN (FPN 256 channels) with MobileViT-xs (dense 2x2-patch attention) starting from its
# ImageNet-1k weights; COCO 2017 (data/coco), 1x schedule with AdamW 1e-4: the baseline of
# faster-rcnn_filtermobilevit-xs-in1k-pre_fpn_1x_coco.py, same weights, data and schedule. Convert
# the weights once:
#   python tools/model_converters/mobilevit_to_mmfilter.py mobilevit_xs.pt \
#       checkpoints/mobilevit-xs_mmfilter.pth
#   python tools/train.py configs/mobilevit/faster-rcnn_mobilevit-xs-in1k-pre_fpn_1x_coco.py
_base_ = ['../filtermobilevit/faster-rcnn_filtermobilevit-xs-in1k-pre_fpn_1x_coco.py']
model = dict(backbone=dict(type='MobileViT'))
