# Ablation on the clutter benchmark: FilterViT-xs with no attention at strides 4-16 (its three
# filter stages keep only their inverted residuals; the pooled global attention at stride 32
# stays). Same data, schedule and seed as retinanet_filtervit_clutter.py: what the sparse
# attention adds when trained, the bound on what any choice of its tokens can add.
_base_ = ['./retinanet_filtervit_clutter.py']
model = dict(backbone=dict(arch=dict(
    _delete_=True,
    stem=dict(channels=16, out_channels=16, expand_ratio=2),
    stages=[
        dict(channels=32, blocks=2, expand_ratio=2, attention=None),
        dict(channels=64, blocks=1, expand_ratio=4, attention=None),
        dict(channels=96, blocks=2, expand_ratio=4, attention=None),
        dict(channels=160, blocks=1, expand_ratio=4,
             attention=dict(type='pooled', embed_dim=160, depth=3, num_heads=4,
                            token_budget=1024)),
    ])))
