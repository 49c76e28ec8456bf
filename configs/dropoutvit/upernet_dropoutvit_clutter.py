# UPerNet (128 channels) + auxiliary FCN head (64) with DropoutViT-xs, trained from scratch on the
# clutter benchmark: same data, schedule and seed as upernet_filtervit_clutter.py.
#   python tools/train.py configs/dropoutvit/upernet_dropoutvit_clutter.py
_base_ = ['../filtervit/upernet_filtervit_clutter.py']
model = dict(backbone=dict(type='DropoutViT'))
