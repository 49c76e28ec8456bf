"""Heads of other libraries, adjusted where they fail as released. Importing this package
needs MMDetection; configs name it in ``custom_imports``."""
from .ssd_head import SSDLiteHead

__all__ = ['SSDLiteHead']
