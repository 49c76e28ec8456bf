# SSDLite-320 with MobileViT-xs, trained from scratch on the embedded detection demo: the baseline
# of ssdlite_filtervit_demo.py, same data, anchors, schedule and seed. Neck and head: 12% of the
# end-to-end time (7 of 56 ms at 320x320).
#   python tools/train.py configs/mobilevit/ssdlite_mobilevit_demo.py
_base_ = ['../filtervit/ssdlite_filtervit_demo.py']
levels = (80, 96, 256, 256, 128, 64)
model = dict(backbone=dict(type='MobileViT'), neck=dict(in_channels=levels[:2], out_channels=levels),
             bbox_head=dict(in_channels=levels))
