# The clutter benchmark with RetinaNet's depthwise-separable head (DepthwiseRetinaHead):
# same backbone, light FPN, data, schedule and seed as retinanet_filtervit_clutter.py.
#   python tools/train.py configs/retinanet-dw_filtervit_clutter.py
_base_ = ['./retinanet_filtervit_clutter.py']
custom_imports = dict(imports=['mmfilter', 'mmfilter.models.heads', 'mmfilter.datasets.demo_coco'],
                      allow_failed_imports=False)
model = dict(bbox_head=dict(type='DepthwiseRetinaHead'))
