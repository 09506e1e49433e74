"""Signal processing on float32 (channels, samples) arrays: one analysis pass, trimming, limiting.

The audio is changed in place, chunk by chunk; what the later steps need is kept per 10 ms frame
or per block of about 1.4 ms, so an hour of audio is held once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from pipeline.audio.measure import (
    LoudnessMeter,
    Measurement,
    block_peaks,
    db_to_gain,
    loudness_of,
    mask_runs,
    oversampled_envelope,
    sub_blocks,
)

# Analysis chunk: a whole number of 100 ms sub-blocks, 10 ms frames and limiter blocks at 44.1/48 kHz.
CHUNK_SUBBLOCKS = 256
FRAME_S = 0.01
# Speech starts at the first 10 ms frame within this many dB of the loud frames (95th percentile).
SPEECH_BELOW_LOUD_DB = 35.0
SILENCE_FLOOR_DBFS = -70.0
# Limiter: the gain ramps down over 2 x RAMP_S before a peak, holds HOLD_S, ramps back over 2 x RAMP_S.
RAMP_S = 0.005
HOLD_S = 0.020
# Blocks whose sample peak, after gain, is this far under the limit cannot need limiting.
HOT_MARGIN_DB = 3.0


@dataclass(frozen=True)
class Analysis:
    """What one pass over the decoded audio learnt; the array itself is now high-passed."""

    input: Measurement
    hp_frame_energy: np.ndarray  # K-weighted mean square per 10 ms frame of the high-passed audio
    frame_energy: np.ndarray  # mean square per 10 ms frame of the high-passed audio
    frame_peak: np.ndarray  # sample peak per 10 ms frame of the high-passed audio
    block: int  # samples per limiter block (a divisor of the 10 ms frame)
    block_peak: np.ndarray  # sample peak per block of the high-passed audio
    block_power: np.ndarray  # sum of squares per block of the high-passed audio, channels summed


@dataclass(frozen=True)
class Trim:
    start: int  # first sample kept
    end: int  # one past the last sample kept
    speech_start_s: float
    speech_end_s: float


def highpass_sos(rate: int, cutoff_hz: float) -> np.ndarray | None:
    """4th-order Butterworth high-pass (24 dB/octave) against rumble; None when disabled."""
    if cutoff_hz <= 0:
        return None
    # Scipy is untyped.
    value: np.ndarray = signal.butter(4, cutoff_hz, btype="highpass", fs=rate, output="sos").astype(np.float32)
    return value


def analyze(x: np.ndarray, rate: int, *, highpass_hz: float) -> Analysis:
    """Measure the input, high-pass it in place, and gather what trimming and limiting need."""
    channels, n = x.shape
    meter_in = LoudnessMeter(rate, channels)
    meter_hp = LoudnessMeter(rate, channels, true_peak=False)
    sos = highpass_sos(rate, highpass_hz)
    zi = np.zeros((sos.shape[0], channels, 2), dtype=np.float32) if sos is not None else None
    frame = int(rate * FRAME_S)
    chunk = rate // 10 * CHUNK_SUBBLOCKS
    block_len = limiter_block(frame)
    peaks: list[np.ndarray] = []
    bpeaks: list[np.ndarray] = []
    bpower: list[np.ndarray] = []
    for start in range(0, n, chunk):
        block = x[:, start : start + chunk]
        meter_in.feed(block)
        if sos is not None:
            block[...], zi = signal.sosfilt(sos, block, axis=1, zi=zi)
        meter_hp.feed(block)
        small = block_peaks(block, block_len)
        bpeaks.append(small)
        peaks.append(_group_max(small, frame // block_len))
        bpower.append(_block_power(block, block_len))
    return Analysis(
        input=meter_in.result(),
        hp_frame_energy=meter_hp.frame_energy,
        frame_energy=_group_sum(np.concatenate(bpower), frame // block_len) / frame,
        frame_peak=np.concatenate(peaks),
        block=block_len,
        block_peak=np.concatenate(bpeaks),
        block_power=np.concatenate(bpower),
    )


def _group_sum(values: np.ndarray, group: int) -> np.ndarray:
    """Sum of each run of `group` values (the last run may be short), in float64."""
    full = values.size // group * group
    out = values[:full].reshape(-1, group).sum(axis=1, dtype=np.float64)
    return np.append(out, values[full:].sum(dtype=np.float64)) if full < values.size else out


def _group_max(values: np.ndarray, group: int) -> np.ndarray:
    """Maximum of each run of `group` values (the last run may be short)."""
    full = values.size // group * group
    out = values[:full].reshape(-1, group).max(axis=1)
    return np.append(out, values[full:].max()) if full < values.size else out


def limiter_block(frame: int) -> int:
    """The largest divisor of the frame length up to 64 samples (63 at 44.1 kHz, 60 at 48 kHz)."""
    return next(d for d in range(64, 0, -1) if frame % d == 0)


def _block_power(block: np.ndarray, size: int) -> np.ndarray:
    usable = block.shape[1] // size * size
    rows = block[:, :usable].reshape(block.shape[0], -1, size)
    out = np.einsum("ijk,ijk->j", rows, rows)
    if usable < block.shape[1]:
        out = np.append(out, float(np.square(block[:, usable:]).sum()))
    value: np.ndarray = out.astype(np.float32)  # numpy arithmetic returns Any to mypy
    return value


def find_trim(frame_energy: np.ndarray, rate: int, n: int, *, max_silence_s: float) -> Trim | None:
    """Keep at most `max_silence_s` of silence at each end; None when there is no sound at all."""
    with np.errstate(divide="ignore"):
        level = 10.0 * np.log10(frame_energy)
    sounding = level[np.isfinite(level)]
    if sounding.size == 0:
        return None
    loud = float(np.percentile(sounding, 95))
    threshold = max(loud - SPEECH_BELOW_LOUD_DB, SILENCE_FLOOR_DBFS)
    active = np.flatnonzero(level >= threshold)
    if active.size == 0:
        return None
    frame = int(rate * FRAME_S)
    speech_start, speech_end = int(active[0]) * frame, min(n, (int(active[-1]) + 1) * frame)
    keep = int(round(max_silence_s * rate))
    sub = rate // 10
    # Start on a 100 ms boundary, as the loudness blocks do, without keeping more than allowed.
    start = max(0, speech_start - keep)
    aligned = -(-start // sub) * sub
    start = aligned if aligned <= speech_start else start
    end = min(n, speech_end + keep)
    return Trim(start=start, end=end, speech_start_s=speech_start / rate, speech_end_s=speech_end / rate)


@dataclass(frozen=True)
class GainPlan:
    """A gain and a limiter curve (one value per block, <= 1); measured loudness of the result."""

    gain: float
    curve: np.ndarray  # limiter gain per block of Analysis.block samples
    output_lufs: float | None
    limited_db: float  # deepest gain reduction by the limiter (0.0: none)

    @property
    def limited(self) -> bool:
        return self.limited_db > 0.0


class PeakEnvelope:
    """Per block: the true peak (4x oversampled) where it may reach the threshold, else the sample
    peak (then well under the threshold, so it needs no limiting either way).

    Frames are oversampled once, when a gain first brings them near the threshold.
    """

    def __init__(self, x: np.ndarray, analysis: Analysis, *, threshold: float, rate: int) -> None:
        self.x, self.analysis, self.threshold = x, analysis, threshold
        self.frame = int(rate * FRAME_S)
        self.values = analysis.block_peak.copy()
        self._done = np.zeros(analysis.frame_peak.size, dtype=bool)

    def at(self, gain: float) -> np.ndarray:
        """The envelope, exact wherever gain * true peak can reach the threshold."""
        hot = self.analysis.frame_peak * gain >= self.threshold * db_to_gain(-HOT_MARGIN_DB)
        todo = hot & ~self._done
        if todo.any():
            self._oversample(np.asarray(mask_runs(todo), dtype=np.int64))
            self._done |= todo
        return self.values

    def _oversample(self, frame_spans: np.ndarray) -> None:
        block, n = self.analysis.block, self.x.shape[1]
        spans = np.minimum(frame_spans * self.frame, n)
        per_sample = oversampled_envelope(self.x, spans)
        lengths = spans[:, 1] - spans[:, 0]
        blocks_per_span = -(-lengths // block)
        block_index = _ranges(spans[:, 0] // block, blocks_per_span)
        starts = _ranges(np.zeros_like(blocks_per_span), blocks_per_span) * block
        starts += np.repeat(np.concatenate([[0], np.cumsum(lengths)[:-1]]), blocks_per_span)
        found = np.maximum.reduceat(per_sample, starts)
        self.values[block_index] = np.maximum(self.values[block_index], found)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of arange(start, start + length) for each pair."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    base = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    # Numpy arithmetic returns Any to mypy.
    value: np.ndarray = np.arange(total, dtype=np.int64) + np.repeat(starts - base, lengths)
    return value


def limiter_curve(envelope: np.ndarray, *, gain: float, threshold: float, rate: int, block: int) -> np.ndarray:
    """Smooth gain per block (<= 1) that keeps envelope * gain * curve under `threshold` everywhere.

    A minimum filter spreads each needed reduction over [peak - ramp, peak + hold + ramp]; two
    moving averages turn its steps into ramps. Every average at block k only mixes minima whose
    windows contain k, so the curve never exceeds the reduction that block needs.
    """
    half = max(1, round(RAMP_S * rate / block))
    hold = 2 * (round(HOLD_S * rate / block) // 2)
    needed = np.minimum(1.0, threshold / np.maximum(envelope * gain, 1e-12)).astype(np.float32)
    curve = minimum_filter1d(needed, size=hold + 2 * half + 1, origin=hold // 2, mode="nearest")
    curve = uniform_filter1d(curve, size=half + 1, mode="nearest")
    curve = uniform_filter1d(curve, size=half + 1, mode="nearest")
    value: np.ndarray = np.minimum(curve, needed)  # numpy ufuncs return Any to mypy
    return value


def measure_plan(analysis: Analysis, trim: Trim, rate: int, *, gain: float, curve: np.ndarray) -> float | None:
    """Integrated loudness of the trimmed, gained and limited audio.

    The K-weighted energy of each 10 ms frame scales with the gain squared and, where the limiter
    acts, with the power-weighted mean of the curve squared over the frame (the curve moves slowly
    against the audio). The MP3 is measured in full afterwards.
    """
    frames = analysis.hp_frame_energy.size
    per_frame = int(rate * FRAME_S) // analysis.block
    power = _frames_of(analysis.block_power, frames, per_frame)
    weighted = (power * _frames_of(np.square(curve), frames, per_frame)).sum(axis=1)
    total = power.sum(axis=1)
    ratio = np.divide(weighted, total, out=np.ones_like(total), where=total > 0)
    energy = analysis.hp_frame_energy * (gain * gain) * ratio
    sub = rate // 10
    first_sub, last_sub = -(-trim.start // sub), trim.end // sub
    return loudness_of(sub_blocks(energy[first_sub * 10 : last_sub * 10]))


def _frames_of(per_block: np.ndarray, frames: int, per_frame: int) -> np.ndarray:
    """Per-block values as (frames, blocks per frame), cut or zero-padded to whole frames."""
    out = np.zeros(frames * per_frame, dtype=np.float64)
    count = min(out.size, per_block.size)
    out[:count] = per_block[:count]
    return out.reshape(frames, per_frame)


# Stop iterating once the measured loudness is this close to the target.
LOUDNESS_TOLERANCE_LU = 0.02
MAX_GAIN_ITERATIONS = 8


def plan_gain(
    x: np.ndarray,
    analysis: Analysis,
    trim: Trim,
    rate: int,
    *,
    target_lufs: float,
    threshold: float,
    gain: float,
) -> GainPlan:
    """Gain to reach `target_lufs`, limited under `threshold` (linear); measured and corrected.

    Limiting takes back part of each gain step, so the next gain comes from the slope between the
    last two tries (secant), not from the remaining miss alone.
    """
    envelope = PeakEnvelope(x, analysis, threshold=threshold, rate=rate)
    tried: list[tuple[float, float]] = []  # (gain dB, measured LUFS)
    plan = GainPlan(gain=gain, curve=np.ones(0, np.float32), output_lufs=None, limited_db=0.0)
    for _ in range(MAX_GAIN_ITERATIONS):
        curve = limiter_curve(envelope.at(gain), gain=gain, threshold=threshold, rate=rate, block=analysis.block)
        lufs = measure_plan(analysis, trim, rate, gain=gain, curve=curve)
        deepest = float(curve.min()) if curve.size else 1.0
        plan = GainPlan(gain=gain, curve=curve, output_lufs=lufs, limited_db=-20 * math.log10(deepest))
        if lufs is None or abs(target_lufs - lufs) <= LOUDNESS_TOLERANCE_LU:
            break
        tried.append((20 * math.log10(gain), lufs))
        gain *= db_to_gain((target_lufs - lufs) / _slope(tried))
    return plan


def _slope(tried: list[tuple[float, float]]) -> float:
    """LU of loudness per dB of gain, from the last two tries (1 before there are two)."""
    if len(tried) < 2 or tried[-1][0] == tried[-2][0]:
        return 1.0
    slope = (tried[-1][1] - tried[-2][1]) / (tried[-1][0] - tried[-2][0])
    return min(1.0, max(0.2, slope))


# Blocks of limiter curve expanded to samples at a time.
APPLY_BLOCKS = 1 << 15


def apply_plan(x: np.ndarray, plan: GainPlan, trim: Trim, *, block: int, undo: bool = False) -> None:
    """Scale x[:, trim] in place by the plan's gain and limiter curve (or undo that exactly).

    Between block boundaries the curve is interpolated linearly; each boundary takes the smaller
    of its two blocks' values, so no sample gets more gain than its block allows.
    """
    gain = np.float32(plan.gain)
    if not undo:
        x[:, trim.start : trim.end] *= gain
    curve = plan.curve
    bounds = np.concatenate([curve[:1], np.minimum(curve[:-1], curve[1:]), curve[-1:]])
    ramp = np.arange(block, dtype=np.float32) / np.float32(block)
    n = x.shape[1]
    for first in range(0, curve.size, APPLY_BLOCKS):
        last = min(curve.size, first + APPLY_BLOCKS)
        if curve[first:last].min() >= 1.0:
            continue
        left, right = bounds[first:last], bounds[first + 1 : last + 1]
        per_sample = (left[:, None] + (right - left)[:, None] * ramp[None, :]).ravel()
        start = first * block
        stop = min(n, start + per_sample.size)
        if undo:
            x[:, start:stop] /= per_sample[: stop - start]
        else:
            x[:, start:stop] *= per_sample[: stop - start]
    if undo:
        x[:, trim.start : trim.end] /= gain
