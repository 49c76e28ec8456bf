# RetinaNet (FPN 128 channels, 2-conv head) with FilterViT-xs, trained from scratch on the embedded
# detection demo with MobileViT's multi-scale sampler: each batch at a side drawn from 192-320 px
# with as many images as keep about 8 x 256² pixels (14 / 10 / 8 / 6 / 5 images), the stacked
# batch resized to it by the data preprocessor; the demo schedule (9 epochs x 50 iterations,
# seed 0).
#   python tools/train.py configs/filtervit/retinanet_filtervit_demo_multiscale.py
_base_ = ['./retinanet_filtervit_demo.py']
custom_imports = dict(
    imports=['mmfilter', 'mmfilter.datasets.demo_coco', 'mmfilter.datasets.multiscale'],
    allow_failed_imports=False)
multiscale = dict(sides=(192, 224, 256, 288, 320), base_side=256)
train_dataloader = dict(batch_size=8, batch_sampler=dict(type='MultiScaleBatchSampler', **multiscale))
model = dict(data_preprocessor=dict(
    batch_augments=[dict(type='MultiScaleBatchResize', batch_size=8, **multiscale)]))
