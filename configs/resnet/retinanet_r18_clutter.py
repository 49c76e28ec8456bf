# RetinaNet (FPN 128 channels, 2-conv head) with MMDetection's ResNet-18, trained from scratch
# on the clutter benchmark: same data, schedule and seed as retinanet_filtervit_clutter.py.
#   python tools/train.py configs/resnet/retinanet_r18_clutter.py
_base_ = ['../filtervit/retinanet_filtervit_clutter.py']
model = dict(
    backbone=dict(_delete_=True, type='ResNet', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                  frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False, style='pytorch', init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512]))
