# SSDLite-320 with DropoutViT-xs (K random tokens) on COCO: ssdlite_filtervit_coco.py.
_base_ = ['./ssdlite_filtervit_coco.py']
model = dict(backbone=dict(type='DropoutViT'))
