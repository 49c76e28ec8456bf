# RetinaNet (FPN 128 channels, 2-conv head) with MobileViT-xs (dense 2×2-patch attention), trained
# from scratch on the clutter benchmark: same data, schedule and seed as
# retinanet_filtervit_clutter.py.
#   python tools/train.py configs/mobilevit/retinanet_mobilevit_clutter.py
_base_ = ['../filtervit/retinanet_filtervit_clutter.py']
model = dict(backbone=dict(type='MobileViT'), neck=dict(in_channels=[48, 64, 80, 96]))
