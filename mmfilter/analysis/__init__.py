"""Evaluation-time analysis of trained models: what the token-selecting blocks
pick (:func:`record_selections`) and what changes when they pick otherwise
(:func:`override_selection`). Used by the visualisers and the analysis tools;
nothing in the model, the engine or the APIs imports it."""
from .selection import override_selection, record_selections

__all__ = ['override_selection', 'record_selections']
