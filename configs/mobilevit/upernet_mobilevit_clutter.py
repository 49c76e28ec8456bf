# UPerNet (128 channels) + auxiliary FCN head (64) with MobileViT-xs, trained from scratch on the
# clutter benchmark: same data, schedule and seed as upernet_filtervit_clutter.py.
#   python tools/train.py configs/mobilevit/upernet_mobilevit_clutter.py
_base_ = ['../filtervit/upernet_filtervit_clutter.py']
model = dict(
    backbone=dict(type='MobileViT'),
    decode_head=dict(in_channels=[48, 64, 80, 96]),
    auxiliary_head=dict(in_channels=80))
