"""Quality scores from published ITU-T models: pure functions of numbers, no I/O.

- ``audio_score``: the E-model of the codec's own band, MOS 1.0..4.5: G.107 (narrowband),
  G.107.1 (wideband), G.107.2 (fullband) (``audio``, ``emodel``).
- ``video_score``: ITU-T G.1070 judged at the stream's resolution, 1.0..5.0 (``video``).
- ``score_sample``: both, for what one participant experienced in one interval; received
  audio that was muted or silent is not scored.

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
