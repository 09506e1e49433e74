"""whisper's log-mel spectrogram, computed in chunks so that an hour of audio fits in little memory.

whisper.audio.log_mel_spectrogram transforms the whole episode at once: for one hour that is a
580 MB complex STFT, two 290 MB magnitude tensors and a padded copy of the audio, on top of the
audio itself (measured peak 2.4 GiB for one hour with `base`). Each STFT frame only depends on its
400 samples, so computing frames chunk by chunk (with whisper's reflect padding at the two ends)
gives the same spectrogram; the final dynamic-range clamp uses the global maximum, as whisper does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

N_FFT = 400
HOP = 160
CHUNK_FRAMES = 30_000  # 5 minutes of frames per STFT


def _samples(audio: np.ndarray, padding: int, start: int, stop: int) -> np.ndarray:
    """audio followed by `padding` zeros, reflected at both ends (torch.stft center=True), [start, stop)."""
    total = len(audio) + padding

    def plain(a: int, b: int) -> np.ndarray:
        out = np.zeros(max(b - a, 0), dtype=np.float32)
        inside = audio[max(a, 0) : min(b, len(audio))]
        out[max(0, -a) : max(0, -a) + len(inside)] = inside
        return out

    parts = []
    if start < 0:
        parts.append(plain(1, 1 - start)[::-1])  # reflect: x[k] for k = -start .. 1
    parts.append(plain(max(start, 0), min(stop, total)))
    if stop > total:
        parts.append(plain(2 * total - 1 - stop, total - 1)[::-1])  # reflect around the last sample
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def log_mel_spectrogram_chunked(audio: Any, n_mels: int = 80, padding: int = 0, device: Any = None) -> Any:
    """Same result as whisper.audio.log_mel_spectrogram (CPU), with memory bounded by the chunk size."""
    import torch
    from whisper.audio import mel_filters

    samples = audio.numpy() if torch.is_tensor(audio) else np.asarray(audio, dtype=np.float32)
    n_frames = (len(samples) + padding) // HOP  # whisper drops the STFT's last frame
    window = torch.hann_window(N_FFT)
    filters = mel_filters("cpu", n_mels)
    out = torch.empty((n_mels, n_frames), dtype=torch.float32)
    for first in range(0, n_frames, CHUNK_FRAMES):
        last = min(first + CHUNK_FRAMES, n_frames)
        chunk = _samples(samples, padding, first * HOP - N_FFT // 2, (last - 1) * HOP + N_FFT // 2)
        stft = torch.stft(torch.from_numpy(chunk), N_FFT, HOP, window=window, center=False, return_complex=True)
        mel = filters @ (stft.abs() ** 2)
        out[:, first:last] = torch.clamp(mel, min=1e-10).log10()
    torch.maximum(out, out.max() - 8.0, out=out)
    return out.add_(4.0).div_(4.0)
