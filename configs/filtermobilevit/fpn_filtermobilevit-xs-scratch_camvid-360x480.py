# Semantic FPN with FilterMobileViT-xs (MobileViT-xs with a filter picking its tokens) on
# CamVid: the recipe of fpn_filtervit-xs-scratch_camvid-360x480.py.
#   python tools/train.py configs/filtermobilevit/fpn_filtermobilevit-xs-scratch_camvid-360x480.py
_base_ = ['../filtervit/fpn_filtervit-xs-scratch_camvid-360x480.py']
model = dict(backbone=dict(type='FilterMobileViT'), neck=dict(in_channels=[48, 64, 80, 96]))
