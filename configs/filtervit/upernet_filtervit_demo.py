# UPerNet (128 channels) + auxiliary FCN head (64) with FilterViT-xs, trained from scratch on the
# embedded segmentation demo (256x256, ADE20K layout, 6 classes, no download), 400 iterations of
# batch 8 with AdamW 2e-3 and poly decay, seed 0:
#   python tools/train.py configs/filtervit/upernet_filtervit_demo.py
_base_ = [
    '../_base_/models/upernet_filtervit.py',
    '../_base_/datasets/demo_segmentation.py',
    '../_base_/schedules/demo_segmentation.py',  # with mmseg's default_runtime
]
custom_imports = dict(
    imports=['mmfilter', 'mmfilter.datasets.demo_ade', 'mmfilter.datasets.seg_transforms'],
    allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
# Narrower heads than ADE20K's (512 / 256 channels) for 2 CPU cores.
model = dict(
    data_preprocessor=dict(size=(256, 256)),
    decode_head=dict(channels=128, num_classes=6, norm_cfg=norm_cfg),
    auxiliary_head=dict(channels=64, num_classes=6, norm_cfg=norm_cfg))
