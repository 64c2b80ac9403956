"""The scoring's one exception: an input no model can take (negative, not finite, out of range).

``score_sample`` never raises it: it treats such a value as unknown. ``audio_score`` and
``video_score`` raise it, so a caller passing numbers by hand learns what was wrong.
"""

from __future__ import annotations


class ScoringInputError(ValueError):
    """A model input is out of its domain (the message names it and the value)."""
