# SSDLite-320 with MobileViT-xs on COCO, the baseline of ssdlite_filtervit_coco.py (the setting of
# MobileViT's paper, here from MMDetection's recipe rather than the paper's).
_base_ = ['./ssdlite_filtervit_coco.py']
levels = (80, 96, 256, 256, 128, 64)
model = dict(backbone=dict(type='MobileViT'), neck=dict(in_channels=levels[:2], out_channels=levels),
             bbox_head=dict(in_channels=levels))
