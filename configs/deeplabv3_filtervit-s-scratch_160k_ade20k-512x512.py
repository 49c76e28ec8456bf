# DeepLabv3-FilterViT-s (output stride 16) on ADE20K: deeplabv3_filtervit_ade20k.py with the small
# backbone.
_base_ = ['./deeplabv3_filtervit_ade20k.py']
model = dict(backbone=dict(arch='s'), decode_head=dict(in_channels=256),
             auxiliary_head=dict(in_channels=160))
