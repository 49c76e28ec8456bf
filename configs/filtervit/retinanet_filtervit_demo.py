# RetinaNet (FPN 128 channels, 2-conv head) with FilterViT-xs, trained from scratch on the embedded
# detection demo (256x256, 4 classes, no download), the demo schedule (9 epochs x 50 iterations,
# batch 8, AdamW 2e-3, cosine decay, seed 0):
#   python tools/train.py configs/filtervit/retinanet_filtervit_demo.py
_base_ = [
    '../_base_/models/retinanet_filtervit.py',
    '../_base_/datasets/demo_detection.py',
    '../_base_/schedules/demo_detection.py',  # with mmdet's default_runtime
]
custom_imports = dict(imports=['mmfilter', 'mmfilter.datasets.demo_coco'], allow_failed_imports=False)
# A lighter FPN and head than COCO's (256 channels, 4 convs) for 2 CPU cores.
model = dict(
    neck=dict(out_channels=128),
    bbox_head=dict(num_classes=4, in_channels=128, feat_channels=128, stacked_convs=2))
