# DeepLabv3 (MMSegmentation's ASPP head) over FilterViT-xs at output stride 16: the last stage
# keeps stride 16 and dilates its depthwise convs by 2 (as ResNet's strides / dilations do);
# its pooled attention sees the larger map. ASPP rates 1 / 6 / 12 / 18, DeepLabv3's for OS 16.
_base_ = ['mmseg::_base_/models/deeplabv3_r50-d8.py']
custom_imports = dict(imports=['mmfilter', 'mmfilter.datasets.seg_transforms'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='StopOnNonFiniteLoss'), dict(type='ResidentMemoryHook')]

model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='FilterViT',
        arch='xs',
        strides=(2, 2, 2, 1),
        dilations=(1, 1, 1, 2),
        out_indices=(2, 3),
        drop_path_rate=0.1,
        init_cfg=None),
    decode_head=dict(in_channels=160, in_index=1, dilations=(1, 6, 12, 18)),  # stage 3
    auxiliary_head=dict(in_channels=96, in_index=0))  # stage 2
