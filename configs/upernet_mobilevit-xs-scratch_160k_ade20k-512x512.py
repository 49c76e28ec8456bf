# Baseline: UPerNet with MobileViT-xs on ADE20K.
_base_ = ['./upernet_filtervit_ade20k.py']
model = dict(
    backbone=dict(type='MobileViT'),
    decode_head=dict(in_channels=[48, 64, 80, 96]),
    auxiliary_head=dict(in_channels=80))
