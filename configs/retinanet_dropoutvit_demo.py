# RetinaNet-DropoutViT-xs trained from scratch on the embedded demo data (the main job):
#   make demo   (= python tools/train.py configs/retinanet_dropoutvit_demo.py after the set-up)
# DropoutViT attends K random pixels per image in training and an even spread at evaluation. On
# this demo it matched the learned filter within the seed spread, more reliably and with less
# computation (README: "Learned or random tokens?").
_base_ = ['./retinanet_filtervit_demo.py']
model = dict(backbone=dict(type='DropoutViT'))
