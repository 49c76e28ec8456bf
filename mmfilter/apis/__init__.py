"""Build, load and run mmfilter detectors and segmentors from their configs.

Needs MMDetection or MMSegmentation, whichever the config's ``default_scope`` names.
"""
from .inference import (build_visualizer, init_model, predict, require_token_selection,
                        scope_of)

__all__ = ['build_visualizer', 'init_model', 'predict', 'require_token_selection', 'scope_of']
