# UPerNet-FilterViT-xs trained from scratch on the clutter benchmark (embedded, 384²), the
# segmentation demo's narrow heads and 400-iteration schedule:
#   python tools/train.py configs/upernet_filtervit_clutter.py
_base_ = [
    './_base_/models/upernet_filtervit.py',
    './_base_/datasets/clutter_segmentation.py',
    './_base_/schedules/demo_segmentation.py',
]
custom_imports = dict(
    imports=['mmfilter', 'mmfilter.datasets.demo_ade', 'mmfilter.datasets.seg_transforms'],
    allow_failed_imports=False)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(384, 384)),
    decode_head=dict(channels=128, num_classes=7, norm_cfg=norm_cfg),
    auxiliary_head=dict(channels=64, num_classes=7, norm_cfg=norm_cfg))
