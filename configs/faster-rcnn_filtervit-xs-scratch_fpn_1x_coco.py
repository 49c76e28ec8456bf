# Faster R-CNN with a FilterViT-xs backbone on COCO 2017 (data/coco), 1x schedule.
#   python tools/train.py configs/faster-rcnn_filtervit_coco.py
_base_ = [
    './_base_/models/faster-rcnn_filtervit.py',
    'mmdet::_base_/datasets/coco_detection.py',
    './_base_/schedules/adamw_1x.py',
    'mmdet::_base_/default_runtime.py',
]
