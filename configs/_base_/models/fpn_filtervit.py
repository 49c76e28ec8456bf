# Semantic FPN (MMSegmentation's fpn_r50) over FilterViT-xs, narrowed for a CPU: a 64-channel
# FPN neck and FPN head instead of 256 / 128.
_base_ = ['mmseg::_base_/models/fpn_r50.py']
custom_imports = dict(imports=['mmfilter'], allow_failed_imports=False)
# A loss that is nan or inf stops the run at that iteration with a non-zero exit; resident
# memory is logged after every epoch.
custom_hooks = [dict(type='StopOnNonFiniteLoss'), dict(type='ResidentMemoryHook')]
norm_cfg = dict(type='BN', requires_grad=True)

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='FilterViT',
        arch='xs',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 96, 160], out_channels=64),  # = FilterViT(arch='xs').out_channels
    decode_head=dict(in_channels=[64, 64, 64, 64], channels=64, norm_cfg=norm_cfg))
