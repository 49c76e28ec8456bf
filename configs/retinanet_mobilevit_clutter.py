# The clutter benchmark with MobileViT-xs (dense 2×2-patch attention): same data, schedule and
# seed as retinanet_filtervit_clutter.py.
_base_ = ['./retinanet_filtervit_clutter.py']
model = dict(backbone=dict(type='MobileViT'), neck=dict(in_channels=[48, 64, 80, 96]))
