# DeepLabv3-MobileViT-xs (output stride 16) on the segmentation demo: the baseline of
# deeplabv3_filtervit_demo.py.
_base_ = ['./deeplabv3_filtervit_demo.py']
model = dict(
    backbone=dict(type='MobileViT'),
    decode_head=dict(in_channels=96),
    auxiliary_head=dict(in_channels=80))
