"""The transcribe stage. Takes the 16 kHz speech WAV (and the article, for its vocabulary); gives a
typed `Transcript` (`transcript/draft.json`): segments and words with times and confidences,
doubtful passages flagged by the guards. Engines (openai-whisper, faster-whisper) sit behind one
interface; the model cache builds and checks the offline Whisper models.
"""

from pipeline.transcribe.correct import Correction, DifferenceKey, SpeechAudio, correct_with_article
from pipeline.transcribe.model_cache import default_models_dir, install_model, list_models
from pipeline.transcribe.stage import preload_engine, transcribe_audio

__all__ = [
    "Correction",
    "DifferenceKey",
    "SpeechAudio",
    "correct_with_article",
    "default_models_dir",
    "install_model",
    "list_models",
    "preload_engine",
    "transcribe_audio",
]
