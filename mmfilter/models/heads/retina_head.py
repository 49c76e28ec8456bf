"""RetinaNet's head with depthwise-separable convolutions, for light backbones."""
from typing import Tuple

from mmcv.cnn import DepthwiseSeparableConvModule
from mmdet.models.dense_heads import RetinaHead
from mmdet.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class DepthwiseRetinaHead(RetinaHead):
    """``RetinaHead`` whose 3×3 convolutions are depthwise-separable, as SSDLite's are SSD's.

    Each stacked conv becomes a 3×3 depthwise conv (linear, or with the head's
    ``norm_cfg``) and a 1×1 conv with ReLU; each prediction conv a 3×3 depthwise
    conv followed by the 1×1 ``retina_cls`` / ``retina_reg``, which keep their
    names so the initialisation's bias prior finds them. At 128 channels, 2
    stacked convs and 9 anchors × 80 classes this is 8.6× fewer multiply-adds
    per position than ``RetinaHead``, most of them saved on the classifier's
    720-channel output conv. Outputs have ``RetinaHead``'s shapes, so every
    other part of RetinaNet (anchors, losses, post-processing) is unchanged.

    Initialisation: Kaiming over each conv's fan-in (9 inputs for a depthwise
    conv), since ``RetinaHead``'s ``Normal(std=0.01)`` would shrink the signal a
    few hundred times per depthwise-separable conv; the two prediction convs keep
    ``RetinaHead``'s ``Normal(std=0.01)`` and the classifier's prior 0.01.
    """

    def __init__(self, *args,
                 init_cfg: dict = dict(
                     type='Kaiming', layer='Conv2d', mode='fan_in',
                     override=[dict(type='Normal', name='retina_cls', std=0.01, bias_prob=0.01),
                               dict(type='Normal', name='retina_reg', std=0.01)]),
                 **kwargs) -> None:
        super().__init__(*args, init_cfg=init_cfg, **kwargs)

    def _init_layers(self) -> None:
        self.cls_convs = nn.ModuleList()
        self.reg_convs = nn.ModuleList()
        in_channels = self.in_channels
        for _ in range(self.stacked_convs):
            for convs in (self.cls_convs, self.reg_convs):
                convs.append(DepthwiseSeparableConvModule(
                    in_channels, self.feat_channels, 3, padding=1, conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg, dw_act_cfg=None))
            in_channels = self.feat_channels
        self.cls_depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels)
        self.reg_depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels)
        self.retina_cls = nn.Conv2d(in_channels, self.num_base_priors * self.cls_out_channels, 1)
        self.retina_reg = nn.Conv2d(in_channels,
                                    self.num_base_priors * self.bbox_coder.encode_size, 1)

    def forward_single(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """(N, C, H, W) map -> class scores (N, A·classes, H, W) and box deltas (N, A·4, H, W)."""
        cls_feat, reg_feat = x, x
        for cls_conv, reg_conv in zip(self.cls_convs, self.reg_convs):
            cls_feat, reg_feat = cls_conv(cls_feat), reg_conv(reg_feat)
        return (self.retina_cls(self.cls_depthwise(cls_feat)),
                self.retina_reg(self.reg_depthwise(reg_feat)))
