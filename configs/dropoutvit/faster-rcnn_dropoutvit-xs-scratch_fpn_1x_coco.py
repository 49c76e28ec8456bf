# Faster R-CNN (FPN 256 channels) with DropoutViT-xs (K random tokens), the backbone trained from
# scratch; COCO 2017 (data/coco), 1x schedule with AdamW 1e-4:
# faster-rcnn_filtervit-xs-scratch_fpn_1x_coco.py with random tokens.
# From scratch on a schedule designed for ImageNet-pretrained backbones. Pretrained alternative:
# faster-rcnn_filtermobilevit-xs-in1k-pre_fpn_1x_coco.py.
#   python tools/train.py configs/dropoutvit/faster-rcnn_dropoutvit-xs-scratch_fpn_1x_coco.py
_base_ = ['../filtervit/faster-rcnn_filtervit-xs-scratch_fpn_1x_coco.py']
model = dict(backbone=dict(type='DropoutViT'))
