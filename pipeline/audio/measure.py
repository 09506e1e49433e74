"""Loudness (ITU-R BS.1770-4), loudness range (EBU Tech 3342) and true peak, measured in chunks.

The meter is fed the signal chunk by chunk, so an hour-long recording is measured without a
second copy of it, and the published MP3 can be measured while ffmpeg decodes it. K-weighting
uses the same filter design as pyloudnorm (RBJ shelving/high-pass at 1500 Hz and 38 Hz), so the
numbers match what pyloudnorm reports (tests/test_audio.py checks this to 0.1 LU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0
# 4x oversampling, as BS.1770-4 Annex 2 asks for true-peak measurement.
OVERSAMPLE = 4
# A block whose sample peak is this far below the loudest peak seen cannot hold the true peak:
# inter-sample overshoot of real audio stays well under 4 dB. Only the other blocks are oversampled.
TRUE_PEAK_SEARCH_DB = 3.0
TP_BLOCK = 256
# Samples oversampled per call (bounds the temporary memory to a few tens of MB).
OVERSAMPLE_BATCH = 1 << 22
# Samples of context on each side when a run of blocks is oversampled alone.
TP_CONTEXT = 64


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def gain_to_db(gain: float) -> float:
    return 20.0 * math.log10(gain) if gain > 0 else -math.inf


def _biquad_high_shelf(rate: int, gain_db: float, q: float, fc: float) -> np.ndarray:
    a_ = 10 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * fc / rate
    alpha = math.sin(w0) / (2.0 * q)
    cw, sa = math.cos(w0), 2.0 * math.sqrt(a_) * alpha
    b = [
        a_ * ((a_ + 1) + (a_ - 1) * cw + sa),
        -2 * a_ * ((a_ - 1) + (a_ + 1) * cw),
        a_ * ((a_ + 1) + (a_ - 1) * cw - sa),
    ]
    a = [(a_ + 1) - (a_ - 1) * cw + sa, 2 * ((a_ - 1) - (a_ + 1) * cw), (a_ + 1) - (a_ - 1) * cw - sa]
    return np.array([*(x / a[0] for x in b), 1.0, a[1] / a[0], a[2] / a[0]])


def _biquad_high_pass(rate: int, q: float, fc: float) -> np.ndarray:
    w0 = 2.0 * math.pi * fc / rate
    alpha = math.sin(w0) / (2.0 * q)
    cw = math.cos(w0)
    b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
    a = [1 + alpha, -2 * cw, 1 - alpha]
    return np.array([*(x / a[0] for x in b), 1.0, a[1] / a[0], a[2] / a[0]])


def k_weighting_sos(rate: int) -> np.ndarray:
    """The BS.1770 pre-filter (head shelf, then RLB high-pass) as second-order sections."""
    return np.vstack([_biquad_high_shelf(rate, 4.0, 1 / math.sqrt(2), 1500.0), _biquad_high_pass(rate, 0.5, 38.0)])


@dataclass(frozen=True)
class Measurement:
    """What a meter found in a signal."""

    integrated_lufs: float | None  # None: nothing above the absolute gate
    lra_lu: float | None
    true_peak_dbtp: float | None  # None: digital silence
    sample_peak: float
    duration_s: float


def gated_loudness(block_energy: np.ndarray) -> float | None:
    """BS.1770-4 integrated loudness from the mean squares of 400 ms gating blocks."""
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(block_energy)
    above = block_energy[block_lufs > ABSOLUTE_GATE_LUFS]
    if above.size == 0:
        return None
    relative_gate = -0.691 + 10.0 * math.log10(float(above.mean())) + RELATIVE_GATE_LU
    kept = block_energy[(block_lufs > relative_gate) & (block_lufs > ABSOLUTE_GATE_LUFS)]
    return -0.691 + 10.0 * math.log10(float(kept.mean()))


def loudness_range(short_term_energy: np.ndarray) -> float | None:
    """EBU Tech 3342: spread (10th to 95th percentile) of gated 3 s short-term loudness."""
    with np.errstate(divide="ignore"):
        st = -0.691 + 10.0 * np.log10(short_term_energy)
    st = st[st >= ABSOLUTE_GATE_LUFS]
    if st.size == 0:
        return None
    integrated = 10.0 * math.log10(float(np.mean(10.0 ** (st / 10.0))))
    st = st[st >= integrated + LRA_RELATIVE_GATE_LU]
    if st.size == 0:
        return None
    low, high = np.percentile(st, [10, 95])
    return float(high - low)


def window_energy(sub_energy: np.ndarray, n_sub: int) -> np.ndarray:
    """Mean square over sliding windows of `n_sub` consecutive 100 ms sub-blocks."""
    if sub_energy.size < n_sub:
        return np.empty(0)
    csum = np.concatenate([[0.0], np.cumsum(sub_energy, dtype=np.float64)])
    value: np.ndarray = (csum[n_sub:] - csum[:-n_sub]) / n_sub  # numpy arithmetic returns Any to mypy
    return value


def loudness_of(sub_energy: np.ndarray) -> float | None:
    """Integrated loudness from 100 ms sub-block mean squares (400 ms blocks, 75 % overlap)."""
    return gated_loudness(window_energy(sub_energy, 4))


def lra_of(sub_energy: np.ndarray) -> float | None:
    """Loudness range from 100 ms sub-block mean squares (3 s windows every 100 ms)."""
    return loudness_range(window_energy(sub_energy, 30))


def oversampled_envelope(x: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Per sample of each [start, stop) span of x (channels, n), spans concatenated: the largest
    magnitude over channels of the sample and the 3 points that 4x oversampling puts after it.

    Spans are gathered with TP_CONTEXT samples of context on both sides (zeros beyond the ends of
    x) and oversampled a few million samples at a time; the context keeps the spans independent.
    """
    out = np.empty(int((spans[:, 1] - spans[:, 0]).sum()), dtype=np.float32)
    pos, first = 0, 0
    while first < len(spans):
        lengths = spans[first:, 1] - spans[first:, 0] + 2 * TP_CONTEXT
        count = max(1, int(np.searchsorted(np.cumsum(lengths), OVERSAMPLE_BATCH, side="right")))
        group = spans[first : first + count]
        env = _oversample_group(x, group)
        out[pos : pos + env.size] = env
        pos += env.size
        first += count
    return out


def _oversample_group(x: np.ndarray, spans: np.ndarray) -> np.ndarray:
    n, ctx = x.shape[1], TP_CONTEXT
    lengths = spans[:, 1] - spans[:, 0] + 2 * ctx
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    index = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(spans[:, 0] - ctx - starts, lengths)
    inside = (index >= 0) & (index < n)
    gathered = x[:, np.clip(index, 0, n - 1)]
    gathered[:, ~inside] = 0.0
    up = np.abs(signal.resample_poly(gathered, OVERSAMPLE, 1, axis=1))
    per_sample = up.reshape(x.shape[0], -1, OVERSAMPLE).max(axis=(0, 2))
    keep = np.ones(per_sample.size, dtype=bool)
    for edge in (starts, starts + lengths - ctx):
        keep[(edge[:, None] + np.arange(ctx)).ravel()] = False
    value: np.ndarray = per_sample[keep].astype(np.float32)  # numpy indexing returns Any to mypy
    return value


def mask_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the runs of True in a boolean array."""
    if mask.size == 0:
        return []
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def block_peaks(x: np.ndarray, block: int) -> np.ndarray:
    """Sample peak of each block of `block` samples over all channels (last block may be short)."""
    n = x.shape[1]
    full = n // block * block
    rows = x[:, :full].reshape(x.shape[0], -1, block)
    peaks = np.maximum(rows.max(axis=(0, 2)), -rows.min(axis=(0, 2))) if full else np.empty(0)
    if full < n:
        peaks = np.append(peaks, np.abs(x[:, full:]).max())
    return peaks.astype(np.float32)


class LoudnessMeter:
    """Feed (channels, samples) float chunks; read the integrated loudness, LRA and true peak.

    Channel weights are 1.0 (mono, left, right), as in BS.1770 for those channels.
    """

    def __init__(
        self, rate: int, channels: int, *, true_peak: bool = True, expected_peak_dbtp: float | None = None
    ) -> None:
        """`expected_peak_dbtp`: a level (e.g. the limiter's threshold) that spares oversampling blocks
        far below it. The true peak read is exact whenever it reaches that level; below it, the
        reading may be low but stays below the level, so a ceiling check is never fooled."""
        if rate % 100:
            raise ValueError(f"sample rate {rate} Hz is not a multiple of 100 Hz")
        self.rate = rate
        self.channels = channels
        self.frame = rate // 100
        self.true_peak = true_peak
        self._sos = k_weighting_sos(rate).astype(np.float32)
        self._zi = np.zeros((self._sos.shape[0], channels, 2), dtype=np.float32)
        self._pending = np.zeros((channels, 0), dtype=np.float32)
        self._energies: list[np.ndarray] = []
        self._tail = np.zeros((channels, 0), dtype=np.float32)
        self._tp = 0.0
        self._expected_peak = db_to_gain(expected_peak_dbtp) if expected_peak_dbtp is not None else 0.0
        self._sample_peak = 0.0
        self._samples = 0

    def feed(self, chunk: np.ndarray) -> None:
        self._samples += chunk.shape[1]
        if self.true_peak:
            self._feed_true_peak(chunk)
        weighted, self._zi = signal.sosfilt(self._sos, chunk, axis=1, zi=self._zi)
        if self._pending.shape[1]:
            weighted = np.concatenate([self._pending, weighted], axis=1)
        usable = weighted.shape[1] // self.frame * self.frame
        if usable:
            sq = np.square(weighted[:, :usable], dtype=np.float32).reshape(self.channels, -1, self.frame)
            self._energies.append(sq.sum(axis=(0, 2), dtype=np.float64) / self.frame)
        self._pending = weighted[:, usable:].copy()

    def _feed_true_peak(self, chunk: np.ndarray) -> None:
        peaks = block_peaks(chunk, TP_BLOCK)
        if peaks.size == 0:
            return
        self._sample_peak = max(self._sample_peak, float(peaks.max()))
        threshold = max(self._sample_peak, self._expected_peak) * db_to_gain(-TRUE_PEAK_SEARCH_DB)
        hot = mask_runs(peaks >= max(threshold, 1e-9))
        if hot:
            spans = np.minimum(np.asarray(hot, dtype=np.int64) * TP_BLOCK, chunk.shape[1])
            self._tp = max(self._tp, float(oversampled_envelope(chunk, spans).max()))
        # The joint between chunks: oversample it with context from both sides.
        if self._tail.shape[1] and chunk.shape[1]:
            joint = np.concatenate([self._tail, chunk[:, :TP_CONTEXT]], axis=1)
            if np.abs(joint).max() >= threshold:
                up = signal.resample_poly(joint, OVERSAMPLE, 1, axis=1)
                self._tp = max(self._tp, float(np.abs(up).max()))
        self._tail = chunk[:, -TP_CONTEXT:].copy()

    @property
    def frame_energy(self) -> np.ndarray:
        """Mean square of each complete 10 ms frame fed so far (K-weighted, channels summed)."""
        return np.concatenate(self._energies) if self._energies else np.empty(0)

    def result(self) -> Measurement:
        sub = sub_blocks(self.frame_energy)
        tp = max(self._tp, self._sample_peak)
        return Measurement(
            integrated_lufs=loudness_of(sub),
            lra_lu=lra_of(sub),
            true_peak_dbtp=gain_to_db(tp) if tp > 0 else None,
            sample_peak=self._sample_peak,
            duration_s=self._samples / self.rate,
        )


def sub_blocks(frame_energy: np.ndarray) -> np.ndarray:
    """100 ms sub-block mean squares from 10 ms frame mean squares (an incomplete tail is dropped)."""
    usable = frame_energy.size // 10 * 10
    value: np.ndarray = frame_energy[:usable].reshape(-1, 10).mean(axis=1)  # numpy reductions return Any to mypy
    return value
