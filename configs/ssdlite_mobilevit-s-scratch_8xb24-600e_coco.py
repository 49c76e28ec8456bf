# SSDLite-320 with MobileViT-s on COCO (the paper's SSDLite model: 27.7 mAP with ImageNet weights).
_base_ = ['./ssdlite_filtervit_coco.py']
levels = (128, 160, 256, 256, 128, 64)
model = dict(backbone=dict(type='MobileViT', arch='s'),
             neck=dict(in_channels=levels[:2], out_channels=levels),
             bbox_head=dict(in_channels=levels))
