# RetinaNet + FPN over FilterViT-xs: MMDetection's base model with mmfilter's backbone.
_base_ = ['mmdet::_base_/models/retinanet_r50_fpn.py']
custom_imports = dict(imports=['mmfilter'], allow_failed_imports=False)
# A loss that is nan or inf stops the run at that iteration with a non-zero exit; resident
# memory is logged after every epoch.
custom_hooks = [dict(type='StopOnNonFiniteLoss'), dict(type='ResidentMemoryHook')]

model = dict(
    backbone=dict(
        _delete_=True,
        type='FilterViT',
        arch='xs',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=None),  # or dict(type='Pretrained', checkpoint=..., prefix='backbone.')
    neck=dict(in_channels=[32, 64, 96, 160]))  # = FilterViT(arch='xs').out_channels
