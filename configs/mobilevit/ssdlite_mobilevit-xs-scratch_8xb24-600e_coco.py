# SSDLite-320 with MobileViT-xs (dense 2x2-patch attention), the backbone trained from scratch;
# COCO 2017 (data/coco) at 320x320, MMDetection's SSDLite recipe (SGD, 600 epochs, from scratch):
# the baseline of ssdlite_filtervit-xs-scratch_8xb24-600e_coco.py (the setting of MobileViT's
# paper, here from MMDetection's recipe rather than the paper's). Neck and head take 12% of the
# end-to-end time at 320x320 with this backbone (7 of 56 ms; 2-core CPU, benchmark_models.py).
# With ImageNet weights: ssdlite_mobilevit-xs-in1k-pre_8xb24-600e_coco.py.
#   python tools/train.py configs/mobilevit/ssdlite_mobilevit-xs-scratch_8xb24-600e_coco.py
_base_ = ['../filtervit/ssdlite_filtervit-xs-scratch_8xb24-600e_coco.py']
levels = (80, 96, 256, 256, 128, 64)
model = dict(backbone=dict(type='MobileViT'), neck=dict(in_channels=levels[:2], out_channels=levels),
             bbox_head=dict(in_channels=levels))
