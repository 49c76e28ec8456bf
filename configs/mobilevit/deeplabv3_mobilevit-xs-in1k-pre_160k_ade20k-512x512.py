# DeepLabv3 (ASPP 512 channels) + auxiliary FCN head with MobileViT-xs (dense 2x2-patch attention)
# at output stride 16, starting from its ImageNet-1k weights; ADE20K, 512x512 crops, 160k
# iterations with AdamW 6e-5: deeplabv3_mobilevit-xs-scratch_160k_ade20k-512x512.py with the
# converted weights. Convert them once (Apple's, timm's, Hugging Face's or mmpretrain's MobileViT-xs
# file):
#   python tools/model_converters/mobilevit_to_mmfilter.py mobilevit_xs.pt \
#       checkpoints/mobilevit-xs_mmfilter.pth
#   python tools/train.py configs/mobilevit/deeplabv3_mobilevit-xs-in1k-pre_160k_ade20k-512x512.py
_base_ = ['./deeplabv3_mobilevit-xs-scratch_160k_ade20k-512x512.py']
model = dict(
    # The converted weights expect RGB in [0, 1], without mean/std normalisation.
    data_preprocessor=dict(mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=True),
    backbone=dict(init_cfg=dict(_delete_=True, type='Pretrained',
                                checkpoint='checkpoints/mobilevit-xs_mmfilter.pth')))
