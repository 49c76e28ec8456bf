# SSDLite-320 with FilterViT-s on COCO: ssdlite_filtervit_coco.py with the small backbone.
_base_ = ['./ssdlite_filtervit_coco.py']
levels = (160, 256, 256, 256, 128, 64)
model = dict(backbone=dict(arch='s'), neck=dict(in_channels=levels[:2], out_channels=levels),
             bbox_head=dict(in_channels=levels))
