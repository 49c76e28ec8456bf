# DeepLabv3 (MMSegmentation's ASPP head, 512 channels, rates 1 / 6 / 12 / 18 for output stride 16)
# + auxiliary FCN head with FilterViT-xs at output stride 16, the backbone trained from scratch;
# ADE20K (data/ade/ADEChallengeData2016), 512x512 crops, 160k iterations with AdamW 6e-5: the data,
# schedule and optimiser of upernet_filtervit-xs-scratch_160k_ade20k-512x512.py, the ASPP head in
# place of UPerNet's. At 512x512 on a 2-core CPU the ASPP head takes 30% of the end-to-end time
# (159 of 523 ms) and resizing the 150-class logits to the image plus the argmax 56%, the backbone
# 14% (`python tools/analysis/benchmark_models.py --models deeplabv3`); the demo configs narrow ASPP
# to 128 channels.
# From scratch on a schedule designed for ImageNet-pretrained backbones. Pretrained alternative:
# deeplabv3_filtermobilevit-xs-in1k-pre_160k_ade20k-512x512.py.
#   python tools/train.py configs/filtervit/deeplabv3_filtervit-xs-scratch_160k_ade20k-512x512.py
_base_ = ['./upernet_filtervit-xs-scratch_160k_ade20k-512x512.py']
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(strides=(2, 2, 2, 1), dilations=(1, 1, 1, 2), out_indices=(2, 3)),
    decode_head=dict(
        _delete_=True,
        type='ASPPHead',
        in_channels=160,  # stage 3 of FilterViT-xs
        in_index=1,
        channels=512,
        dilations=(1, 6, 12, 18),
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(in_channels=96, in_index=0))  # stage 2
