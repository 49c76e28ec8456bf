# RetinaNet (FPN 128 channels, 2-conv head) with DropoutViT-xs (random K), trained from scratch on
# the clutter benchmark: same data, schedule and seed as retinanet_filtervit_clutter.py.
#   python tools/train.py configs/dropoutvit/retinanet_dropoutvit_clutter.py
_base_ = ['../filtervit/retinanet_filtervit_clutter.py']
model = dict(backbone=dict(type='DropoutViT'))
