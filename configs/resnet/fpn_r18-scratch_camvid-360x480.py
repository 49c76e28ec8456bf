# Semantic FPN with MMSegmentation's ResNet-18 (ResNetV1c, deep stem) from random
# initialisation on CamVid, the CNN baseline: the recipe of
# fpn_filtervit-xs-scratch_camvid-360x480.py.
#   python tools/train.py configs/resnet/fpn_r18-scratch_camvid-360x480.py
_base_ = ['../filtervit/fpn_filtervit-xs-scratch_camvid-360x480.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=18,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512]))
