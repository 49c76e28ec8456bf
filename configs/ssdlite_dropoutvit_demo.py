# SSDLite-320 with DropoutViT-xs on the detection demo: ssdlite_filtervit_demo.py with random
# tokens.
_base_ = ['./ssdlite_filtervit_demo.py']
model = dict(backbone=dict(type='DropoutViT'))
