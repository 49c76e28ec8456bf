"""Checkpoint converters: other projects' key layouts → mmfilter's (a rename table each)."""
from .mobilevit import (MOBILEVIT_LAYOUTS, ConversionError, convert_mobilevit, guess_mobilevit_arch,
                        load_state_dict)

__all__ = ['MOBILEVIT_LAYOUTS', 'ConversionError', 'convert_mobilevit', 'guess_mobilevit_arch',
           'load_state_dict']
