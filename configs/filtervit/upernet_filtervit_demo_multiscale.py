# UPerNet (128 channels) + auxiliary FCN head (64) with FilterViT-xs, trained from scratch on the
# embedded segmentation demo with MobileViT's multi-scale sampler (see
# retinanet_filtervit_demo_multiscale.py), 400 iterations, seed 0; the batch sampler needs a finite
# sampler, so the iteration loop restarts it with a new epoch (and a new shuffle) at each pass.
#   python tools/train.py configs/filtervit/upernet_filtervit_demo_multiscale.py
_base_ = ['./upernet_filtervit_demo.py']
custom_imports = dict(
    imports=['mmfilter', 'mmfilter.datasets.demo_ade', 'mmfilter.datasets.seg_transforms',
             'mmfilter.datasets.multiscale'],
    allow_failed_imports=False)
multiscale = dict(sides=(192, 224, 256, 288, 320), base_side=256)
train_dataloader = dict(
    batch_size=8,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='MultiScaleBatchSampler', **multiscale))
model = dict(data_preprocessor=dict(
    type='BatchAugmentSegDataPreProcessor',
    batch_augments=[dict(type='MultiScaleBatchResize', batch_size=8, **multiscale)]))
