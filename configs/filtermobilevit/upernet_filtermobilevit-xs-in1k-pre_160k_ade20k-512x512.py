# UPerNet (512 channels) + auxiliary FCN head with FilterMobileViT-xs starting from MobileViT-xs's
# ImageNet-1k weights; ADE20K (data/ade/ADEChallengeData2016), 512x512 crops, 160k iterations with
# AdamW 6e-5 (the data and schedule of upernet_filtervit-xs-scratch_160k_ade20k-512x512.py).
# Convert the weights once (Apple's, timm's, Hugging Face's or mmpretrain's MobileViT-xs file):
#   python tools/model_converters/mobilevit_to_mmfilter.py mobilevit_xs.pt \
#       checkpoints/mobilevit-xs_mmfilter.pth
#   python tools/train.py configs/filtermobilevit/upernet_filtermobilevit-xs-in1k-pre_160k_ade20k-512x512.py
_base_ = ['../filtervit/upernet_filtervit-xs-scratch_160k_ade20k-512x512.py']
model = dict(
    # The converted weights expect RGB in [0, 1], without mean/std normalisation.
    data_preprocessor=dict(mean=[0., 0., 0.], std=[255., 255., 255.], bgr_to_rgb=True),
    backbone=dict(
        type='FilterMobileViT',
        init_cfg=dict(_delete_=True, type='Pretrained',
                      checkpoint='checkpoints/mobilevit-xs_mmfilter.pth')),
    decode_head=dict(in_channels=[48, 64, 80, 96]),
    auxiliary_head=dict(in_channels=80))
