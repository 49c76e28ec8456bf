# UPerNet (512 channels) + auxiliary FCN head with MobileViT-xs (dense 2x2-patch attention), the
# backbone trained from scratch; ADE20K (data/ade/ADEChallengeData2016), 512x512 crops, 160k
# iterations with AdamW 6e-5: the baseline of upernet_filtervit-xs-scratch_160k_ade20k-512x512.py.
# From scratch on a schedule designed for ImageNet-pretrained backbones. Pretrained alternatives:
# upernet_mobilevit-xs-in1k-pre_160k_ade20k-512x512.py (this backbone),
# upernet_filtermobilevit-xs-in1k-pre_160k_ade20k-512x512.py.
#   python tools/train.py configs/mobilevit/upernet_mobilevit-xs-scratch_160k_ade20k-512x512.py
_base_ = ['../filtervit/upernet_filtervit-xs-scratch_160k_ade20k-512x512.py']
model = dict(
    backbone=dict(type='MobileViT'),
    decode_head=dict(in_channels=[48, 64, 80, 96]),
    auxiliary_head=dict(in_channels=80))
