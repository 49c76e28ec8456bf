# DeepLabv3 (ASPP 128 channels) + auxiliary FCN head (64) with DropoutViT-xs (K random tokens) at
# output stride 16, trained from scratch on the embedded segmentation demo:
# deeplabv3_filtervit_demo.py with random tokens, same data, schedule and seed.
#   python tools/train.py configs/dropoutvit/deeplabv3_dropoutvit_demo.py
_base_ = ['../filtervit/deeplabv3_filtervit_demo.py']
model = dict(backbone=dict(type='DropoutViT'))
