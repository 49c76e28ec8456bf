# RetinaNet (FPN 128 channels, 2-conv head, anchors from 16 px) with FilterViT-xs, trained from
# scratch on the clutter benchmark (embedded, 384², 5 classes, no download), the demo's 9-epoch
# schedule (9 x 50 iterations, batch 8, seed 0; results: docs/findings/clutter_benchmark.md):
#   python tools/train.py configs/filtervit/retinanet_filtervit_clutter.py
_base_ = [
    '../_base_/models/retinanet_filtervit.py',
    '../_base_/datasets/clutter_detection.py',
    '../_base_/schedules/demo_detection.py',
]
custom_imports = dict(imports=['mmfilter', 'mmfilter.datasets.demo_coco'], allow_failed_imports=False)
model = dict(
    neck=dict(out_channels=128),
    # Anchors from 16 px at stride 8 (COCO's start at 32): the benchmark's objects are 11-77 px.
    bbox_head=dict(num_classes=5, in_channels=128, feat_channels=128, stacked_convs=2,
                   anchor_generator=dict(octave_base_scale=2)))
