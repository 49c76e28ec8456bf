# The segmentation clutter benchmark with DropoutViT-xs: same data, schedule and seed as
# upernet_filtervit_clutter.py.
_base_ = ['./upernet_filtervit_clutter.py']
model = dict(backbone=dict(type='DropoutViT'))
