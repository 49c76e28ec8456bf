# The clutter benchmark with DropoutViT-xs (random K): same data, schedule and seed as
# retinanet_filtervit_clutter.py.
_base_ = ['./retinanet_filtervit_clutter.py']
model = dict(backbone=dict(type='DropoutViT'))
