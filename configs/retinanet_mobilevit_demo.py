# Baseline: the detection demo with MobileViT-xs (dense 2×2-patch attention) as the backbone,
# from scratch, same data, schedule and seed as retinanet_filtervit_demo.py.
_base_ = ['./retinanet_filtervit_demo.py']
model = dict(backbone=dict(type='MobileViT'), neck=dict(in_channels=[48, 64, 80, 96]))
