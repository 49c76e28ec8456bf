# RetinaNet (FPN 256 channels, 4-conv head) with FilterMobileViT-xs starting from MobileViT-xs's
# ImageNet-1k weights; COCO 2017 (data/coco), 1x schedule: 12 epochs, AdamW 1e-4. Convert the
# weights once (Apple's, timm's, Hugging Face's or mmpretrain's MobileViT-xs file):
#   python tools/model_converters/mobilevit_to_mmfilter.py mobilevit_xs.pt \
#       checkpoints/mobilevit-xs_mmfilter.pth
#   python tools/train.py configs/filtermobilevit/retinanet_filtermobilevit-xs-in1k-pre_fpn_1x_coco.py
_base_ = ['../filtervit/retinanet_filtervit-xs-scratch_fpn_1x_coco.py']
model = dict(
    # The converted weights expect RGB in [0, 1], without mean/std normalisation.
    data_preprocessor=dict(mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=True),
    backbone=dict(
        type='FilterMobileViT',
        init_cfg=dict(_delete_=True, type='Pretrained',
                      checkpoint='checkpoints/mobilevit-xs_mmfilter.pth')),
    neck=dict(in_channels=[48, 64, 80, 96]))
