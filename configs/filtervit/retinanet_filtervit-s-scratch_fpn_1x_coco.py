# RetinaNet (FPN 256 channels, 4-conv head) with FilterViT-s, the backbone trained from scratch;
# COCO 2017 (data/coco), 1x schedule with AdamW 1e-4: retinanet_filtervit_coco.py with the
# larger backbone.
# From scratch on a schedule designed for ImageNet-pretrained backbones. Pretrained alternative:
# retinanet_filtermobilevit-xs-in1k-pre_fpn_1x_coco.py.
#   python tools/train.py configs/filtervit/retinanet_filtervit-s-scratch_fpn_1x_coco.py
_base_ = ['./retinanet_filtervit-xs-scratch_fpn_1x_coco.py']
model = dict(backbone=dict(arch='s'), neck=dict(in_channels=[48, 96, 160, 256]))
