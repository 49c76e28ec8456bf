# SSDLite-320 with MobileViT-s, the backbone trained from scratch; COCO 2017 (data/coco) at
# 320x320, MMDetection's SSDLite recipe (SGD, 600 epochs, from scratch). MobileViT's paper reports
# 27.7 mAP for this model with ImageNet weights.
#   python tools/train.py configs/mobilevit/ssdlite_mobilevit-s-scratch_8xb24-600e_coco.py
_base_ = ['../filtervit/ssdlite_filtervit-xs-scratch_8xb24-600e_coco.py']
levels = (128, 160, 256, 256, 128, 64)
model = dict(backbone=dict(type='MobileViT', arch='s'),
             neck=dict(in_channels=levels[:2], out_channels=levels),
             bbox_head=dict(in_channels=levels))
