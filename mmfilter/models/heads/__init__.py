"""Heads of other libraries, adjusted where they fail as released or made lighter for
light backbones. Importing this package needs MMDetection; configs name it in
``custom_imports``."""
from .retina_head import DepthwiseRetinaHead
from .ssd_head import SSDLiteHead

__all__ = ['DepthwiseRetinaHead', 'SSDLiteHead']
