# SSDLite-320 with DropoutViT-xs (K random tokens), the backbone trained from scratch; COCO 2017
# (data/coco) at 320x320, MMDetection's SSDLite recipe (SGD, 600 epochs, from scratch):
# ssdlite_filtervit-xs-scratch_8xb24-600e_coco.py with random tokens.
#   python tools/train.py configs/dropoutvit/ssdlite_dropoutvit-xs-scratch_8xb24-600e_coco.py
_base_ = ['../filtervit/ssdlite_filtervit-xs-scratch_8xb24-600e_coco.py']
model = dict(backbone=dict(type='DropoutViT'))
