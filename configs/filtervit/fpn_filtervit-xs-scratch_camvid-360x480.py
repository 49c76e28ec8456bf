# Semantic FPN (64 channels) with FilterViT-xs from random initialisation on CamVid (SegNet's
# 11-class split; data/camvid, docs/get_started.md): the CamVid recipe shared by all five
# backbones. Train (val at the half and the end), then test once on the 233 test images:
#   python tools/train.py configs/filtervit/fpn_filtervit-xs-scratch_camvid-360x480.py
#   python tools/test.py configs/filtervit/fpn_filtervit-xs-scratch_camvid-360x480.py \
#       work_dirs/fpn_filtervit-xs-scratch_camvid-360x480/iter_500.pth
# Results, seeds and wall times: docs/findings/camvid.md.
_base_ = [
    '../_base_/models/fpn_filtervit.py',
    '../_base_/datasets/camvid.py',
    '../_base_/schedules/camvid.py',
]
model = dict(
    data_preprocessor=dict(size=(240, 320)),  # crop_size: a training batch's shape
    decode_head=dict(num_classes=11))
