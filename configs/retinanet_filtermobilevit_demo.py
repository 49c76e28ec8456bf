# The detection demo with FilterMobileViT-xs: MobileViT-xs whose blocks attend the top ¼, ½
# and all of their 2×2 patches (strides 8, 16, 32), from scratch, same data, schedule and
# seed as retinanet_filtervit_demo.py. For ImageNet weights see
# retinanet_filtermobilevit_coco.py.
_base_ = ['./retinanet_filtervit_demo.py']
model = dict(backbone=dict(type='FilterMobileViT'), neck=dict(in_channels=[48, 64, 80, 96]))
