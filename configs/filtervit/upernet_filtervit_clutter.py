# UPerNet (128 channels) + auxiliary FCN head (64) with FilterViT-xs, trained from scratch on the
# clutter benchmark (embedded, 384², ADE20K layout, 7 classes), the segmentation demo's optimiser,
# 300 iterations of batch 8, seed 0 (the demo's 400 take about 31 minutes at 384² on 2 CPU cores,
# over the benchmark's 25-minute budget; results: docs/findings/clutter_benchmark.md):
#   python tools/train.py configs/filtervit/upernet_filtervit_clutter.py
_base_ = [
    '../_base_/models/upernet_filtervit.py',
    '../_base_/datasets/clutter_segmentation.py',
    '../_base_/schedules/demo_segmentation.py',
]
custom_imports = dict(
    imports=['mmfilter', 'mmfilter.datasets.demo_ade', 'mmfilter.datasets.seg_transforms'],
    allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(384, 384)),
    decode_head=dict(channels=128, num_classes=7, norm_cfg=norm_cfg),
    auxiliary_head=dict(channels=64, num_classes=7, norm_cfg=norm_cfg))
max_iters = 300
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=75),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=75, end=max_iters, by_epoch=False),
]
