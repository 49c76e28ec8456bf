# Faster R-CNN (FPN 256 channels) with FilterViT-xs, the backbone trained from scratch; COCO 2017
# (data/coco), 1x schedule: 12 epochs, AdamW 1e-4 (_base_/schedules/adamw_1x.py), 2 images per
# GPU on 8 GPUs.
# From scratch on a schedule designed for ImageNet-pretrained backbones: 12 epochs are short for
# random weights. Pretrained alternative: faster-rcnn_filtermobilevit-xs-in1k-pre_fpn_1x_coco.py.
#   python tools/train.py configs/filtervit/faster-rcnn_filtervit-xs-scratch_fpn_1x_coco.py
_base_ = [
    '../_base_/models/faster-rcnn_filtervit.py',
    'mmdet::_base_/datasets/coco_detection.py',
    '../_base_/schedules/adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
]
