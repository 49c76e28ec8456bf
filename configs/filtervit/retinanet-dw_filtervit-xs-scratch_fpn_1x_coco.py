# RetinaNet with a head sized for a light backbone (FPN 128 channels, 2-conv head as in the demo,
# its 3x3 convs depthwise-separable: DepthwiseRetinaHead, 8.6x fewer multiply-adds per position
# than the 128-channel RetinaHead) with FilterViT-xs, the backbone trained from scratch; COCO 2017
# (data/coco), 1x schedule with AdamW 1e-4. Its latency against RetinaHead's:
# docs/performance.md.
# From scratch on a schedule designed for ImageNet-pretrained backbones. Pretrained alternative:
# retinanet_filtermobilevit-xs-in1k-pre_fpn_1x_coco.py.
#   python tools/train.py configs/filtervit/retinanet-dw_filtervit-xs-scratch_fpn_1x_coco.py
_base_ = ['./retinanet_filtervit-xs-scratch_fpn_1x_coco.py']
custom_imports = dict(imports=['mmfilter', 'mmfilter.models.heads'], allow_failed_imports=False)
model = dict(
    neck=dict(out_channels=128),
    bbox_head=dict(type='DepthwiseRetinaHead', in_channels=128, feat_channels=128,
                   stacked_convs=2))
