# RetinaNet-FilterViT-xs trained from scratch on the embedded demo data (no download):
#   python tools/train.py configs/retinanet_filtervit_demo.py
_base_ = [
    './_base_/models/retinanet_filtervit.py',
    './_base_/datasets/demo_detection.py',
    './_base_/schedules/demo_detection.py',  # with mmdet's default_runtime
]
custom_imports = dict(imports=['mmfilter', 'mmfilter.datasets.demo_coco'], allow_failed_imports=False)
# A lighter FPN and head than COCO's (256 channels, 4 convs) for 2 CPU cores.
model = dict(
    neck=dict(out_channels=128),
    bbox_head=dict(num_classes=4, in_channels=128, feat_channels=128, stacked_convs=2))
