# DeepLabv3 (ASPP 512 channels) + auxiliary FCN head with FilterMobileViT-xs at output stride 16,
# starting from MobileViT-xs's ImageNet-1k weights; ADE20K, 512x512 crops, 160k iterations with
# AdamW 6e-5: deeplabv3_mobilevit-xs-in1k-pre_160k_ade20k-512x512.py with the filtered blocks
# (same weights, data and schedule). Convert the weights once:
#   python tools/model_converters/mobilevit_to_mmfilter.py mobilevit_xs.pt \
#       checkpoints/mobilevit-xs_mmfilter.pth
#   python tools/train.py configs/filtermobilevit/deeplabv3_filtermobilevit-xs-in1k-pre_160k_ade20k-512x512.py
_base_ = ['../mobilevit/deeplabv3_mobilevit-xs-in1k-pre_160k_ade20k-512x512.py']
model = dict(backbone=dict(type='FilterMobileViT'))
