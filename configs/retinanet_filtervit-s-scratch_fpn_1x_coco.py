_base_ = ['./retinanet_filtervit_coco.py']
model = dict(backbone=dict(arch='s'), neck=dict(in_channels=[48, 96, 160, 256]))
