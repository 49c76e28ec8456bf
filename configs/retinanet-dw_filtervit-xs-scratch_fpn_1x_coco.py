# RetinaNet-FilterViT-xs on COCO 2017 with a head sized for a light backbone: FPN 128 and a
# 2-conv head as in the demo, its 3x3 convs depthwise-separable (DepthwiseRetinaHead, 8.6x
# fewer multiply-adds per position than the 128-channel RetinaHead). See the README's
# "Whole models" for its latency against RetinaHead's.
#   python tools/train.py configs/retinanet-dw_filtervit_coco.py
_base_ = ['./retinanet_filtervit_coco.py']
custom_imports = dict(imports=['mmfilter', 'mmfilter.models.heads'], allow_failed_imports=False)
model = dict(
    neck=dict(out_channels=128),
    bbox_head=dict(type='DepthwiseRetinaHead', in_channels=128, feat_channels=128,
                   stacked_convs=2))
