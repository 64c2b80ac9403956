"""Quality scores from published ITU-T models: pure functions of numbers, no I/O.

- ``audio_score``: ITU-T G.107.2 fullband E-model, MOS 1.0..4.5 (``audio``, ``emodel``).
- ``video_score``: ITU-T G.1070 video quality Vq, 1.0..5.0, with a freeze penalty (``video``).
- ``score_sample``: both, for what one participant experienced in one interval.

Formulas, constants, sources and choices: docs/models.md.
"""

from callquality.scoring.audio import AudioScore, audio_score
from callquality.scoring.errors import ScoringInputError
from callquality.scoring.sample_score import SampleScore, score_sample
from callquality.scoring.video import VideoScore, video_score

__all__ = [
    "AudioScore",
    "SampleScore",
    "ScoringInputError",
    "VideoScore",
    "audio_score",
    "score_sample",
    "video_score",
]
