# Semantic FPN with DropoutViT-xs (FilterViT-xs drawing its tokens at random) on CamVid: the
# recipe of fpn_filtervit-xs-scratch_camvid-360x480.py.
#   python tools/train.py configs/dropoutvit/fpn_dropoutvit-xs-scratch_camvid-360x480.py
_base_ = ['../filtervit/fpn_filtervit-xs-scratch_camvid-360x480.py']
model = dict(backbone=dict(type='DropoutViT'))
