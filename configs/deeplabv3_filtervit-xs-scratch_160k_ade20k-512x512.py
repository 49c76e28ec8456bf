# DeepLabv3-FilterViT-xs (output stride 16) on ADE20K (data/ade/ADEChallengeData2016): the data,
# schedule and optimiser of upernet_filtervit_ade20k.py, MMSegmentation's ASPP head (512
# channels, rates 1 / 6 / 12 / 18 for output stride 16) in place of UPerNet's. At 512x512 on the
# 2-core CPU the ASPP head takes 30% of the end-to-end time (159 of 523 ms) and resizing the
# 150-class logits to the image plus the argmax 56%, the backbone 14%
# (`python tools/analysis/benchmark_models.py --models deeplabv3`); the demo configs narrow ASPP to
# 128 channels.
_base_ = ['./upernet_filtervit_ade20k.py']
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
