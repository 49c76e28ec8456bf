# SSDLite-320 with DropoutViT-xs (K random tokens), trained from scratch on the embedded detection
# demo: ssdlite_filtervit_demo.py with random tokens, same data, schedule and seed.
#   python tools/train.py configs/dropoutvit/ssdlite_dropoutvit_demo.py
_base_ = ['../filtervit/ssdlite_filtervit_demo.py']
model = dict(backbone=dict(type='DropoutViT'))
