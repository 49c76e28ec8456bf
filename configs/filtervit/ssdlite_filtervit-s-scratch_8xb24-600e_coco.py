# SSDLite-320 with FilterViT-s, the backbone trained from scratch; COCO 2017 (data/coco) at
# 320x320, MMDetection's SSDLite recipe (SGD, 600 epochs, from scratch):
# ssdlite_filtervit-xs-scratch_8xb24-600e_coco.py with the larger backbone.
#   python tools/train.py configs/filtervit/ssdlite_filtervit-s-scratch_8xb24-600e_coco.py
_base_ = ['./ssdlite_filtervit-xs-scratch_8xb24-600e_coco.py']
levels = (160, 256, 256, 256, 128, 64)
model = dict(backbone=dict(arch='s'), neck=dict(in_channels=levels[:2], out_channels=levels),
             bbox_head=dict(in_channels=levels))
