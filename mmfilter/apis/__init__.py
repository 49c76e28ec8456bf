"""Build, load and run mmfilter detectors and segmentors from their configs.

Needs MMDetection or MMSegmentation, whichever the config's ``default_scope`` names.
"""
from .inference import (MAX_DRAW_SIDE, as_rgb_image, bounded_for_drawing, build_visualizer,
                        default_device, init_model, predict, require_token_selection, scope_of)

__all__ = ['MAX_DRAW_SIDE', 'as_rgb_image', 'bounded_for_drawing', 'build_visualizer',
           'default_device', 'init_model', 'predict', 'require_token_selection', 'scope_of']
