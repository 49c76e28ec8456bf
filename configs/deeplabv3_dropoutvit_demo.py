# DeepLabv3-DropoutViT-xs (output stride 16) on the segmentation demo: deeplabv3_filtervit_demo.py
# with random tokens.
_base_ = ['./deeplabv3_filtervit_demo.py']
model = dict(backbone=dict(type='DropoutViT'))
