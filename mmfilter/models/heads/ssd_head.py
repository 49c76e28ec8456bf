"""MMDetection's SSD head with the attribute its predict path reads."""
from mmdet.models.dense_heads import SSDHead
from mmdet.registry import MODELS


@MODELS.register_module()
class SSDLiteHead(SSDHead):
    """``SSDHead`` that can predict in MMDetection 3.3.

    ``BaseDenseHead._predict_by_feat_single`` reads ``self.loss_cls``, which
    ``SSDHead`` never sets (its loss is written out in ``loss_by_feat``), so
    every validation or inference of an SSD model fails with an
    ``AttributeError`` (open-mmlab/mmdetection#11063, #11780). ``None`` here
    makes that check fall through to the softmax SSD uses. Nothing else differs:
    give it ``use_depthwise=True`` for SSDLite, as MMDetection's config does.
    """

    loss_cls = None
