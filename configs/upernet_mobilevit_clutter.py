# The segmentation clutter benchmark with MobileViT-xs: same data, schedule and seed as
# upernet_filtervit_clutter.py.
_base_ = ['./upernet_filtervit_clutter.py']
model = dict(
    backbone=dict(type='MobileViT'),
    decode_head=dict(in_channels=[48, 64, 80, 96]),
    auxiliary_head=dict(in_channels=80))
