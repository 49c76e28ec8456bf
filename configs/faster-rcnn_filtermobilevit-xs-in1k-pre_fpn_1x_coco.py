# Faster R-CNN with FilterMobileViT-xs on COCO 2017 (data/coco), 1x schedule, starting from
# MobileViT-xs ImageNet weights (convert them first: see retinanet_filtermobilevit_coco.py).
#   python tools/train.py configs/faster-rcnn_filtermobilevit_coco.py
_base_ = ['./faster-rcnn_filtervit_coco.py']
model = dict(
    # The weights were trained on RGB in [0, 1] without mean/std normalisation.
    data_preprocessor=dict(mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=True),
    backbone=dict(
        type='FilterMobileViT',
        init_cfg=dict(_delete_=True, type='Pretrained',
                      checkpoint='checkpoints/mobilevit-xs_mmfilter.pth')),
    neck=dict(in_channels=[48, 64, 80, 96]))
