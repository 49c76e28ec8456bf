# The recipe MMDetection uses for transformer backbones (Swin, PVT): AdamW, linear
# warm-up, 1x schedule (12 epochs, steps at 8 and 11), no decay on norms and biases.
# No 'pos_embed' exemption as in Swin: there it is a table of free per-position
# parameters; here `pos_embed.proj` is an ordinary linear layer over Fourier
# features of the coordinates, so its weight decays like every other weight.
_base_ = ['mmdet::_base_/schedules/schedule_1x.py']

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
