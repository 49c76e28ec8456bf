# The CamVid schedule, one for every backbone: MAX_ITERS iterations of batch 8 from random
# initialisation with AdamW 2e-3, linear warm-up over the first tenth, then poly decay; val
# at the half and at the end; the last checkpoint kept. Sized to train all five backbones
# (eight runs with the seeds) on 2 CPU cores in one sitting: docs/findings/camvid.md.
_base_ = ['mmseg::_base_/default_runtime.py']

max_iters = 500
warmup_iters = max_iters // 10
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters // 2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=warmup_iters, end=max_iters,
         by_epoch=False),
]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)  # --cfg-options randomness.seed=N for another seed
