# DeepLabv3-DropoutViT-xs (output stride 16, K random tokens) on ADE20K:
# deeplabv3_filtervit_ade20k.py with random tokens.
_base_ = ['./deeplabv3_filtervit_ade20k.py']
model = dict(backbone=dict(type='DropoutViT'))
