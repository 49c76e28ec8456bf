# DeepLabv3 (ASPP 512 channels) + auxiliary FCN head with MobileViT-s at output stride 16, the
# backbone trained from scratch; ADE20K, 512x512 crops, 160k iterations with AdamW 6e-5:
# deeplabv3_mobilevit-xs-scratch_160k_ade20k-512x512.py with the larger backbone.
# From scratch on a schedule designed for ImageNet-pretrained backbones. Pretrained alternative:
# deeplabv3_filtermobilevit-xs-in1k-pre_160k_ade20k-512x512.py.
#   python tools/train.py configs/mobilevit/deeplabv3_mobilevit-s-scratch_160k_ade20k-512x512.py
_base_ = ['../filtervit/deeplabv3_filtervit-xs-scratch_160k_ade20k-512x512.py']
model = dict(backbone=dict(type='MobileViT', arch='s'), decode_head=dict(in_channels=160),
             auxiliary_head=dict(in_channels=128))
