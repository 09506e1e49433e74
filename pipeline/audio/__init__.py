"""The normalize stage. Takes the creator's recording in any format ffmpeg decodes; gives the published
`audio/master.mp3` (loudness-normalized to the show's target, true peak under the ceiling, silences
trimmed, ID3 tags), the 16 kHz mono `audio/speech-16k.wav` that transcription reads, and
`audio/loudness.json` with what was measured before and after.
"""

from pipeline.audio.decode import probe_audio
from pipeline.audio.encode import Id3Tags
from pipeline.audio.normalize import normalize_audio, write_tags

__all__ = [
    "Id3Tags",
    "normalize_audio",
    "probe_audio",
    "write_tags",
]
