# DeepLabv3 (ASPP 512 channels) + auxiliary FCN head with MobileViT-xs (dense 2x2-patch attention)
# at output stride 16, the backbone trained from scratch; ADE20K, 512x512 crops, 160k iterations
# with AdamW 6e-5: the baseline of deeplabv3_filtervit-xs-scratch_160k_ade20k-512x512.py, same
# head and data (MobileViT's paper evaluates DeepLabv3 on PASCAL VOC). ASPP 512: 26% of the
# end-to-end time at 512x512 with this backbone (161 of 616 ms; 2-core CPU).
# From scratch on a schedule designed for ImageNet-pretrained backbones. Pretrained alternatives:
# deeplabv3_mobilevit-xs-in1k-pre_160k_ade20k-512x512.py (this backbone),
# deeplabv3_filtermobilevit-xs-in1k-pre_160k_ade20k-512x512.py.
#   python tools/train.py configs/mobilevit/deeplabv3_mobilevit-xs-scratch_160k_ade20k-512x512.py
_base_ = ['../filtervit/deeplabv3_filtervit-xs-scratch_160k_ade20k-512x512.py']
model = dict(backbone=dict(type='MobileViT'), decode_head=dict(in_channels=96),
             auxiliary_head=dict(in_channels=80))
