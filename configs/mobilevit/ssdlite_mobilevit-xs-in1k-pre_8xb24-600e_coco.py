# SSDLite-320 with MobileViT-xs (dense 2x2-patch attention) starting from its ImageNet-1k weights;
# COCO 2017 (data/coco) at 320x320, MMDetection's SSDLite recipe (SGD, 600 epochs; a schedule made
# for training from scratch): ssdlite_mobilevit-xs-scratch_8xb24-600e_coco.py with the converted
# weights. Convert them once (Apple's, timm's, Hugging Face's or mmpretrain's MobileViT-xs file):
#   python tools/model_converters/mobilevit_to_mmfilter.py mobilevit_xs.pt \
#       checkpoints/mobilevit-xs_mmfilter.pth
#   python tools/train.py configs/mobilevit/ssdlite_mobilevit-xs-in1k-pre_8xb24-600e_coco.py
_base_ = ['./ssdlite_mobilevit-xs-scratch_8xb24-600e_coco.py']
model = dict(
    # The converted weights expect RGB in [0, 1], without mean/std normalisation.
    data_preprocessor=dict(mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=True),
    backbone=dict(init_cfg=dict(_delete_=True, type='Pretrained',
                                checkpoint='checkpoints/mobilevit-xs_mmfilter.pth')))
