# RetinaNet (FPN 128 channels, 2-conv head) with MobileViT-xs (dense 2×2-patch attention), trained
# from scratch on the embedded detection demo: the baseline of retinanet_filtervit_demo.py, same
# data, schedule (9 epochs x 50 iterations, batch 8) and seed.
#   python tools/train.py configs/mobilevit/retinanet_mobilevit_demo.py
_base_ = ['../filtervit/retinanet_filtervit_demo.py']
model = dict(backbone=dict(type='MobileViT'), neck=dict(in_channels=[48, 64, 80, 96]))
