# DeepLabv3-MobileViT-xs (output stride 16) on ADE20K, the baseline of deeplabv3_filtervit_ade20k.py
# (MobileViT's paper evaluates DeepLabv3 on PASCAL VOC; same head and data here as ours). ASPP 512:
# 26% of the end-to-end time at 512x512 with this backbone (161 of 616 ms; 2-core CPU).
_base_ = ['./deeplabv3_filtervit_ade20k.py']
model = dict(backbone=dict(type='MobileViT'), decode_head=dict(in_channels=96),
             auxiliary_head=dict(in_channels=80))
