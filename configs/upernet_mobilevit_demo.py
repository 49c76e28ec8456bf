# Baseline: the segmentation demo with MobileViT-xs as the backbone.
_base_ = ['./upernet_filtervit_demo.py']
model = dict(
    backbone=dict(type='MobileViT'),
    decode_head=dict(in_channels=[48, 64, 80, 96]),
    auxiliary_head=dict(in_channels=80))
