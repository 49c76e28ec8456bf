# UPerNet (128 channels) + auxiliary FCN head (64) with MobileViT-xs, trained from scratch on the
# embedded segmentation demo: the baseline of upernet_filtervit_demo.py, same data, schedule (400
# iterations, batch 8) and seed.
#   python tools/train.py configs/mobilevit/upernet_mobilevit_demo.py
_base_ = ['../filtervit/upernet_filtervit_demo.py']
model = dict(
    backbone=dict(type='MobileViT'),
    decode_head=dict(in_channels=[48, 64, 80, 96]),
    auxiliary_head=dict(in_channels=80))
