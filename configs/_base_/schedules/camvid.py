# The CamVid schedule, one for every backbone: the segmentation demo's (AdamW 2e-3, norms and
# biases without weight decay, poly decay, seed 0) over MAX_ITERS iterations of batch 8, with
# linear warm-up over the first tenth; val at the half and at the end; the last checkpoint kept.
# Sized to train all five backbones at two seeds on 2 CPU cores in three hours:
# docs/findings/camvid.md.
_base_ = ['./demo_segmentation.py']

max_iters = 500
warmup_iters = max_iters // 10
train_cfg = dict(max_iters=max_iters, val_interval=max_iters // 2)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=1e-5, power=1.0, begin=warmup_iters, end=max_iters,
         by_epoch=False),
]
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
