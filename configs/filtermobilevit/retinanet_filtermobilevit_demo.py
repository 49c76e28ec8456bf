# RetinaNet (FPN 128 channels, 2-conv head) with FilterMobileViT-xs: MobileViT-xs whose blocks
# attend the top ¼, ½ and all of their 2×2 patches (strides 8, 16, 32), trained from scratch on the
# embedded detection demo, same data, schedule (9 epochs x 50 iterations, batch 8) and seed as
# retinanet_filtervit_demo.py. With ImageNet weights:
# retinanet_filtermobilevit-xs-in1k-pre_fpn_1x_coco.py.
#   python tools/train.py configs/filtermobilevit/retinanet_filtermobilevit_demo.py
_base_ = ['../filtervit/retinanet_filtervit_demo.py']
model = dict(backbone=dict(type='FilterMobileViT'), neck=dict(in_channels=[48, 64, 80, 96]))
