# DeepLabv3 (ASPP 128 channels) + auxiliary FCN head (64) with FilterViT-xs at output stride 16,
# trained from scratch on the embedded segmentation demo (256x256, 6 classes), 400 iterations of
# batch 8, seed 0. The heads are narrowed for 2 CPU cores: at 512 channels the ASPP head is 30% of
# the end-to-end time at 512x512 (see deeplabv3_filtervit-xs-scratch_160k_ade20k-512x512.py).
#   python tools/train.py configs/filtervit/deeplabv3_filtervit_demo.py
_base_ = [
    '../_base_/models/deeplabv3_filtervit.py',
    '../_base_/datasets/demo_segmentation.py',
    '../_base_/schedules/demo_segmentation.py',
]
custom_imports = dict(
    imports=['mmfilter', 'mmfilter.datasets.demo_ade', 'mmfilter.datasets.seg_transforms'],
    allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(256, 256)),
    decode_head=dict(channels=128, num_classes=6, norm_cfg=norm_cfg),
    auxiliary_head=dict(channels=64, num_classes=6, norm_cfg=norm_cfg))
