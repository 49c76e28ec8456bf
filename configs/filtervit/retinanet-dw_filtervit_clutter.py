# RetinaNet with the depthwise-separable head (DepthwiseRetinaHead, FPN 128 channels, 2 convs) with
# FilterViT-xs, trained from scratch on the clutter benchmark: same backbone, data, schedule and
# seed as retinanet_filtervit_clutter.py.
#   python tools/train.py configs/filtervit/retinanet-dw_filtervit_clutter.py
_base_ = ['./retinanet_filtervit_clutter.py']
custom_imports = dict(imports=['mmfilter', 'mmfilter.models.heads', 'mmfilter.datasets.demo_coco'],
                      allow_failed_imports=False)
model = dict(bbox_head=dict(type='DepthwiseRetinaHead'))
