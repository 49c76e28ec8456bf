# UPerNet (512 channels) + auxiliary FCN head with DropoutViT-xs (K random tokens), the backbone
# trained from scratch; ADE20K (data/ade/ADEChallengeData2016), 512x512 crops, 160k iterations
# with AdamW 6e-5: upernet_filtervit-xs-scratch_160k_ade20k-512x512.py with random tokens.
# From scratch on a schedule designed for ImageNet-pretrained backbones. Pretrained alternative:
# upernet_filtermobilevit-xs-in1k-pre_160k_ade20k-512x512.py.
#   python tools/train.py configs/dropoutvit/upernet_dropoutvit-xs-scratch_160k_ade20k-512x512.py
_base_ = ['../filtervit/upernet_filtervit-xs-scratch_160k_ade20k-512x512.py']
model = dict(backbone=dict(type='DropoutViT'))
