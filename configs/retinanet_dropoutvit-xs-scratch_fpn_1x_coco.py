_base_ = ['./retinanet_filtervit_coco.py']
model = dict(backbone=dict(type='DropoutViT'))
