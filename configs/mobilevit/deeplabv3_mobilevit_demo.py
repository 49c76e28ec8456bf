# DeepLabv3 (ASPP 128 channels) + auxiliary FCN head (64) with MobileViT-xs at output stride 16,
# trained from scratch on the embedded segmentation demo: the baseline of
# deeplabv3_filtervit_demo.py, same data, schedule and seed.
#   python tools/train.py configs/mobilevit/deeplabv3_mobilevit_demo.py
_base_ = ['../filtervit/deeplabv3_filtervit_demo.py']
model = dict(
    backbone=dict(type='MobileViT'),
    decode_head=dict(in_channels=96),
    auxiliary_head=dict(in_channels=80))
