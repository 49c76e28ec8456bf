# RetinaNet (FPN 128 channels, 2-conv head) with DropoutViT-xs, trained from scratch on the embedded
# detection demo, the demo schedule (9 epochs x 50 iterations, batch 8, seed 0); the main job:
#   make demo   (= python tools/train.py configs/dropoutvit/retinanet_dropoutvit_demo.py after the set-up)
# DropoutViT attends K random pixels per image in training and an even spread at evaluation. On
# this demo it matched the learned filter within the seed spread, more reliably and with less
# computation (docs/findings/token_selection.md).
_base_ = ['../filtervit/retinanet_filtervit_demo.py']
model = dict(backbone=dict(type='DropoutViT'))
