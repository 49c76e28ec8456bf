# SSDLite-320 (depthwise SSD neck and head) with FilterViT-xs, the backbone trained from scratch;
# COCO 2017 (data/coco) at 320x320; MMDetection's SSDLite recipe (its augmentation and schedule:
# SGD, 600 epochs, 24 images per GPU on 8 GPUs, made for training MobileNetV2 from scratch) with
# FilterViT-xs in place of MobileNetV2, as MobileViT's paper evaluates light backbones. The
# backbone's stride-16 and -32 maps (96 / 160 channels) pass through; four depthwise extra levels
# (256, 256, 128, 64 channels, strides 64-320) follow: MobileNetV2's (512, 256, 256, 128) halved
# at the top, about 0.3 M parameters. Neck and head take 15% of the end-to-end time at 320x320
# with this backbone (6 of 39 ms; post-processing 2 ms; 2-core CPU,
# `python tools/analysis/benchmark_models.py --models ssdlite`).
#   python tools/train.py configs/filtervit/ssdlite_filtervit-xs-scratch_8xb24-600e_coco.py
_base_ = ['mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py']
custom_imports = dict(imports=['mmfilter', 'mmfilter.models.heads'], allow_failed_imports=False)
custom_hooks = [dict(type='StopOnNonFiniteLoss'), dict(type='ResidentMemoryHook')]

levels = (96, 160, 256, 256, 128, 64)  # the backbone's two maps (FilterViT-xs), then extras
model = dict(
    backbone=dict(
        _delete_=True,
        type='FilterViT',
        arch='xs',
        out_indices=(2, 3),  # strides 16 and 32
        drop_path_rate=0.1,
        init_cfg=None),  # or dict(type='Pretrained', checkpoint=..., prefix='backbone.')
    neck=dict(in_channels=levels[:2], out_channels=levels),
    bbox_head=dict(type='SSDLiteHead', in_channels=levels))  # SSDHead that predicts in mmdet 3.3
optim_wrapper = dict(paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
