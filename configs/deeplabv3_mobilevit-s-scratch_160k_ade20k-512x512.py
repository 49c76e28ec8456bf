# DeepLabv3-MobileViT-s (output stride 16) on ADE20K: deeplabv3_mobilevit_ade20k.py with the small
# backbone.
_base_ = ['./deeplabv3_filtervit_ade20k.py']
model = dict(backbone=dict(type='MobileViT', arch='s'), decode_head=dict(in_channels=160),
             auxiliary_head=dict(in_channels=128))
