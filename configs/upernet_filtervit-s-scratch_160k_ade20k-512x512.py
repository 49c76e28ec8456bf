_base_ = ['./upernet_filtervit_ade20k.py']
model = dict(
    backbone=dict(arch='s'),
    decode_head=dict(in_channels=[48, 96, 160, 256]),
    auxiliary_head=dict(in_channels=160))
