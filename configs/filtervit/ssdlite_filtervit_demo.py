# SSDLite-320 with FilterViT-xs, trained from scratch on the embedded detection demo (no download):
# ssdlite_filtervit-xs-scratch_8xb24-600e_coco.py's model with smaller anchors (the demo's objects
# are 20-180 px at 320x320; COCO's SSDLite anchors start at 48), the demo's data, schedule (9 epochs
# x 50 iterations, batch 8) and seed. The same neck and head widths as on COCO: 15% of the
# end-to-end time (6 of 39 ms at 320x320).
#   python tools/train.py configs/filtervit/ssdlite_filtervit_demo.py
_base_ = ['./ssdlite_filtervit-xs-scratch_8xb24-600e_coco.py']
custom_imports = dict(imports=['mmfilter', 'mmfilter.models.heads', 'mmfilter.datasets.demo_coco'],
                      allow_failed_imports=False)

model = dict(bbox_head=dict(
    num_classes=4,
    anchor_generator=dict(min_sizes=[20, 48, 96, 144, 200, 260],
                          max_sizes=[48, 96, 144, 200, 260, 320])))

# The demo's data and schedule are restated here rather than inherited: MMDetection's SSDLite
# recipe is one whole config (model, data, schedule), and MMEngine refuses a key that two bases
# both define, so this config cannot list it beside _base_/datasets/demo_detection.py.
dataset_type = 'DemoCocoDataset'
data_root = 'data/demo_coco/'
input_size = (320, 320)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=input_size, ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=input_size, allow_negative_crop=False),
    dict(type='Pad', size=input_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=input_size, keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

# The demo schedule (configs/_base_/schedules/demo_detection.py): 9 epochs x 50 iterations,
# AdamW with warm-up and cosine decay, one evaluation at the end, seed 0.
max_epochs = 9
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.),
    clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min_ratio=0.01, by_epoch=True,
         begin=0, end=max_epochs, convert_to_iter_based=True),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
auto_scale_lr = dict(enable=False, base_batch_size=8)
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
