# UPerNet with FilterMobileViT-xs on ADE20K, starting from MobileViT-xs ImageNet weights
# (convert them first: see retinanet_filtermobilevit_coco.py).
#   python tools/train.py configs/upernet_filtermobilevit_ade20k.py
_base_ = ['./upernet_filtervit_ade20k.py']
model = dict(
    # The weights were trained on RGB in [0, 1] without mean/std normalisation.
    data_preprocessor=dict(mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=True),
    backbone=dict(
        type='FilterMobileViT',
        init_cfg=dict(_delete_=True, type='Pretrained',
                      checkpoint='checkpoints/mobilevit-xs_mmfilter.pth')),
    decode_head=dict(in_channels=[48, 64, 80, 96]),
    auxiliary_head=dict(in_channels=80))
