"""BatchNorm folded into the convolutions before it, for inference.

In eval mode a BatchNorm after a convolution is an affine map per channel, so it
can live in the convolution's weights and bias: the same outputs, one pass over
the map less per ``ConvNormAct`` (a quarter of FilterViT-xs's CPU time at
detection sizes goes to BatchNorm; see docs/performance.md). MMCV's
``fuse_conv_bn`` does the folding; this module adds the guard and the hook.
"""
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from torch import nn


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm that directly follows a convolution in the same container
    into it, in place (the BatchNorm becomes an ``Identity``); returns ``model``.

    Inference only: a fused model cannot be trained further, so a model in
    training mode is refused.
    """
    if model.training:
        raise ValueError('BatchNorm is folded into convolutions for inference only: call '
                         'model.eval() first (a fused model cannot be trained further)')
    from mmcv.cnn import fuse_conv_bn as fold
    return fold(model)


@HOOKS.register_module()
class FuseConvBNHook(Hook):
    """Fold BatchNorm into convolutions once the test weights are loaded
    (``tools/test.py --fuse-conv-bn``); validation during training is left alone."""

    def before_test(self, runner) -> None:
        model = getattr(runner.model, 'module', runner.model)  # unwrap DDP
        fuse_conv_bn(model.eval())
