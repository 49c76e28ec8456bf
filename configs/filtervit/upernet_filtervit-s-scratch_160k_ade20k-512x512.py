# UPerNet (512 channels) + auxiliary FCN head with FilterViT-s, the backbone trained from scratch;
# ADE20K (data/ade/ADEChallengeData2016), 512x512 crops, 160k iterations with AdamW 6e-5:
# upernet_filtervit-xs-scratch_160k_ade20k-512x512.py with the larger backbone.
# From scratch on a schedule designed for ImageNet-pretrained backbones. Pretrained alternative:
# upernet_filtermobilevit-xs-in1k-pre_160k_ade20k-512x512.py.
#   python tools/train.py configs/filtervit/upernet_filtervit-s-scratch_160k_ade20k-512x512.py
_base_ = ['./upernet_filtervit-xs-scratch_160k_ade20k-512x512.py']
model = dict(
    backbone=dict(arch='s'),
    decode_head=dict(in_channels=[48, 96, 160, 256]),
    auxiliary_head=dict(in_channels=160))
