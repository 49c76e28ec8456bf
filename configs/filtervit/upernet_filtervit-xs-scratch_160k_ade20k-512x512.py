# UPerNet (512 channels) + auxiliary FCN head with FilterViT-xs, the backbone trained from scratch;
# ADE20K (data/ade/ADEChallengeData2016, 150 classes), 512x512 crops, 160k iterations with the
# AdamW recipe of MMSegmentation's Swin configs (6e-5, poly decay), 2 images per GPU on 8 GPUs.
# From scratch on a schedule designed for ImageNet-pretrained backbones: 160k iterations are short
# for random weights. Pretrained alternative:
# upernet_filtermobilevit-xs-in1k-pre_160k_ade20k-512x512.py.
#   python tools/train.py configs/filtervit/upernet_filtervit-xs-scratch_160k_ade20k-512x512.py
_base_ = [
    '../_base_/models/upernet_filtervit.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
crop_size = (512, 512)
num_classes = 150
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))

# ADE20K's pipelines with a per-sample label check after loading.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='ValidateSegMap', num_classes=num_classes),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='ValidateSegMap', num_classes=num_classes),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# Swin's AdamW recipe. Every normalisation layer (BatchNorm and LayerNorm, weight
# and bias) and every bias is exempt from weight decay; `pos_embed.proj` is a linear
# layer here, not a position table as in Swin, so it decays (see adamw_1x.py).
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
