# UPerNet + auxiliary FCN head over FilterViT-xs: MMSegmentation's base model with mmfilter's
# backbone.
_base_ = ['mmseg::_base_/models/upernet_r50.py']
custom_imports = dict(imports=['mmfilter', 'mmfilter.datasets.seg_transforms'],
                      allow_failed_imports=False)
# A loss that is nan or inf stops the run at that iteration with a non-zero exit; resident
# memory is logged after every epoch.
custom_hooks = [dict(type='StopOnNonFiniteLoss'), dict(type='ResidentMemoryHook')]

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='FilterViT',
        arch='xs',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=None),
    decode_head=dict(in_channels=[32, 64, 96, 160]),  # = FilterViT(arch='xs').out_channels
    auxiliary_head=dict(in_channels=96, in_index=2))
