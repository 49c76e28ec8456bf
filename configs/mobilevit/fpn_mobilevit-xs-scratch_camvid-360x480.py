# Semantic FPN with MobileViT-xs (attention over every pixel, unfolded into patches) on CamVid:
# the recipe of fpn_filtervit-xs-scratch_camvid-360x480.py.
#   python tools/train.py configs/mobilevit/fpn_mobilevit-xs-scratch_camvid-360x480.py
_base_ = ['../filtervit/fpn_filtervit-xs-scratch_camvid-360x480.py']
model = dict(backbone=dict(type='MobileViT'), neck=dict(in_channels=[48, 64, 80, 96]))
