"""Signal processing on float32 (channels, samples) arrays: one analysis pass, trimming, limiting.

Everything works in place or on short stretches, so an hour of audio is held once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from pipeline.audio_measure import (
    OVERSAMPLE,
    TP_CONTEXT,
    LoudnessMeter,
    Measurement,
    block_peaks,
    db_to_gain,
    loudness_of,
    mask_runs,
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
HOT_MARGIN_DB = 4.0


@dataclass(frozen=True)
class Analysis:
    """What one pass over the decoded audio learnt; the array itself is now high-passed."""

    input: Measurement
    hp_frame_energy: np.ndarray  # K-weighted mean square per 10 ms frame of the high-passed audio
    frame_energy: np.ndarray  # mean square per 10 ms frame of the high-passed audio
    frame_peak: np.ndarray  # sample peak per 10 ms frame of the high-passed audio


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
    return signal.butter(4, cutoff_hz, btype="highpass", fs=rate, output="sos").astype(np.float32)


def analyze(x: np.ndarray, rate: int, *, highpass_hz: float) -> Analysis:
    """Measure the input, high-pass it in place, and gather what trimming and limiting need."""
    channels, n = x.shape
    meter_in = LoudnessMeter(rate, channels)
    meter_hp = LoudnessMeter(rate, channels, true_peak=False)
    sos = highpass_sos(rate, highpass_hz)
    zi = np.zeros((sos.shape[0], channels, 2), dtype=np.float32) if sos is not None else None
    frame = int(rate * FRAME_S)
    chunk = rate // 10 * CHUNK_SUBBLOCKS
    frames: list[np.ndarray] = []
    peaks: list[np.ndarray] = []
    for start in range(0, n, chunk):
        block = x[:, start : start + chunk]
        meter_in.feed(block)
        if sos is not None:
            block[...], zi = signal.sosfilt(sos, block, axis=1, zi=zi)
        meter_hp.feed(block)
        frames.append(_frame_energy(block, frame))
        peaks.append(block_peaks(block, frame))
    return Analysis(
        input=meter_in.result(),
        hp_frame_energy=meter_hp.frame_energy,
        frame_energy=np.concatenate(frames),
        frame_peak=np.concatenate(peaks),
    )


def _frame_energy(block: np.ndarray, frame: int) -> np.ndarray:
    usable = block.shape[1] // frame * frame
    sq = np.square(block[:, :usable]).reshape(block.shape[0], -1, frame)
    out = sq.mean(axis=2, dtype=np.float64).sum(axis=0)
    if usable < block.shape[1]:
        out = np.append(out, float(np.square(block[:, usable:]).mean(axis=1).sum()))
    return out


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
class LimiterRun:
    """A stretch of audio whose peaks come near the ceiling, with its true-peak envelope."""

    start: int
    stop: int
    envelope: np.ndarray  # per sample: largest |value| over channels and the 4x-oversampled points
    power: np.ndarray  # per sample: sum over channels of the squared value


@dataclass(frozen=True)
class GainPlan:
    """A gain and, where peaks need it, smooth limiter curves; measured loudness of the result."""

    gain: float
    curves: tuple[tuple[int, np.ndarray], ...]  # (start sample, gain curve) of each limited run
    output_lufs: float | None
    limited_db: float  # deepest gain reduction by the limiter (0.0: none)


def limiter_geometry(rate: int) -> tuple[int, int]:
    half = max(1, int(rate * RAMP_S))
    hold = 2 * (int(rate * HOLD_S) // 2)
    return half, hold


def find_runs(x: np.ndarray, frame_peak: np.ndarray, *, gain: float, threshold: float, rate: int) -> list[LimiterRun]:
    """Stretches that may need limiting at `gain`, padded so that each curve returns to 1 inside."""
    half, hold = limiter_geometry(rate)
    frame = int(rate * FRAME_S)
    n = x.shape[1]
    hot = frame_peak * gain >= threshold * db_to_gain(-HOT_MARGIN_DB)
    if not hot.any():
        return []
    pad = math.ceil((hold + 4 * half) / frame)
    padded = np.convolve(hot.astype(np.int8), np.ones(2 * pad + 1, dtype=np.int8), mode="same") > 0
    hot_spans = [(a * frame, min(n, b * frame)) for a, b in mask_runs(hot)]
    peaks = oversampled_peaks(x, hot_spans)
    runs, k = [], 0
    for b0, b1 in mask_runs(padded):
        start, stop = b0 * frame, min(n, b1 * frame)
        envelope = np.zeros(stop - start, dtype=np.float32)
        while k < len(hot_spans) and hot_spans[k][0] < stop:
            s0, s1 = hot_spans[k]
            envelope[s0 - start : s1 - start] = peaks[k]
            k += 1
        power = np.einsum("ij,ij->j", x[:, start:stop], x[:, start:stop])
        runs.append(LimiterRun(start=start, stop=stop, envelope=envelope, power=power))
    return runs


def oversampled_peaks(x: np.ndarray, spans: list[tuple[int, int]]) -> list[np.ndarray]:
    """Per sample of each span: the largest |value| over channels and the 4x-oversampled points.

    All spans, each with TP_CONTEXT samples of context on both sides (zeros beyond the ends), are
    gathered into one array and oversampled in one call; the context keeps the spans independent.
    """
    if not spans:
        return []
    n, ctx = x.shape[1], TP_CONTEXT
    index = np.concatenate([np.arange(a - ctx, b + ctx) for a, b in spans])
    inside = (index >= 0) & (index < n)
    gathered = x[:, np.clip(index, 0, n - 1)]
    gathered[:, ~inside] = 0.0
    up = np.abs(signal.resample_poly(gathered, OVERSAMPLE, 1, axis=1))
    per_sample = up.reshape(x.shape[0], -1, OVERSAMPLE).max(axis=(0, 2)).astype(np.float32)
    out, pos = [], 0
    for a, b in spans:
        out.append(per_sample[pos + ctx : pos + ctx + b - a])
        pos += b - a + 2 * ctx
    return out


def limiter_curve(envelope: np.ndarray, *, gain: float, threshold: float, rate: int) -> np.ndarray:
    """Smooth gain (<= 1) that keeps envelope * gain * curve under `threshold` at every sample.

    A minimum filter spreads each needed reduction over [peak - ramp, peak + hold + ramp]; two
    moving averages of `half` + 1 samples turn its steps into ramps. Every average at sample n only
    mixes minima whose windows contain n, so the curve never exceeds the reduction n needs.
    """
    half, hold = limiter_geometry(rate)
    needed = np.minimum(1.0, threshold / np.maximum(envelope * gain, 1e-12)).astype(np.float32)
    size = hold + 2 * half + 1
    curve = minimum_filter1d(needed, size=size, origin=hold // 2, mode="nearest")
    curve = uniform_filter1d(curve, size=half + 1, mode="nearest")
    curve = uniform_filter1d(curve, size=half + 1, mode="nearest")
    return np.minimum(curve, needed)


def measure_plan(analysis: Analysis, trim: Trim, rate: int, *, gain: float, curves: list[tuple[LimiterRun, np.ndarray]]) -> float | None:
    """Integrated loudness of the trimmed, gained and limited audio.

    The K-weighted energy of each 10 ms frame scales with the gain squared; inside limited stretches
    each frame's energy is scaled by the power-weighted mean of curve squared over the frame (the
    curve moves slowly against the audio). The MP3 is measured in full afterwards.
    """
    frame = int(rate * FRAME_S)
    energy = analysis.hp_frame_energy * (gain * gain)
    for run, curve in curves:
        usable = curve.size // frame * frame
        power = run.power[:usable].reshape(-1, frame)
        weighted = (power * np.square(curve[:usable]).reshape(-1, frame)).sum(axis=1)
        total = power.sum(axis=1)
        ratio = np.divide(weighted, total, out=np.ones_like(total), where=total > 0)
        first = run.start // frame
        energy[first : first + ratio.size] *= ratio[: max(0, energy.size - first)]
    sub = rate // 10
    first_sub, last_sub = -(-trim.start // sub), trim.end // sub
    return loudness_of(sub_blocks(energy[first_sub * 10 : last_sub * 10]))


# Stop iterating once the measured loudness is this close to the target.
LOUDNESS_TOLERANCE_LU = 0.02
MAX_GAIN_ITERATIONS = 8
# Runs are found for a gain this much above the current one, so small corrections reuse them.
RUN_HEADROOM_DB = 1.5


def plan_gain(
    x: np.ndarray, analysis: Analysis, trim: Trim, rate: int, *, target_lufs: float, threshold: float, gain: float
) -> GainPlan:
    """Gain to reach `target_lufs`, limited under `threshold` (linear); measured and corrected."""
    runs: list[LimiterRun] = []
    runs_gain = 0.0
    plan = GainPlan(gain=gain, curves=(), output_lufs=None, limited_db=0.0)
    for _ in range(MAX_GAIN_ITERATIONS):
        if gain > runs_gain:
            runs_gain = gain * db_to_gain(RUN_HEADROOM_DB)
            runs = find_runs(x, analysis.frame_peak, gain=runs_gain, threshold=threshold, rate=rate)
        curves: list[tuple[LimiterRun, np.ndarray]] = []
        deepest = 1.0
        for run in runs:
            curve = limiter_curve(run.envelope, gain=gain, threshold=threshold, rate=rate)
            low = float(curve.min())
            if low < 1.0:
                curves.append((run, curve))
                deepest = min(deepest, low)
        lufs = measure_plan(analysis, trim, rate, gain=gain, curves=curves)
        plan = GainPlan(
            gain=gain,
            curves=tuple((run.start, curve) for run, curve in curves),
            output_lufs=lufs,
            limited_db=-20 * math.log10(deepest),
        )
        if lufs is None or abs(target_lufs - lufs) <= LOUDNESS_TOLERANCE_LU:
            break
        gain *= db_to_gain(target_lufs - lufs)
    return plan


def apply_plan(x: np.ndarray, plan: GainPlan, trim: Trim) -> None:
    """Scale x[:, trim] in place by the plan's gain and limiter curves."""
    x[:, trim.start : trim.end] *= np.float32(plan.gain)
    for start, curve in plan.curves:
        x[:, start : start + curve.size] *= curve


def undo_plan(x: np.ndarray, plan: GainPlan, trim: Trim) -> None:
    """Reverse apply_plan (the curves never reach zero), to plan again from the high-passed audio."""
    for start, curve in plan.curves:
        x[:, start : start + curve.size] /= curve
    x[:, trim.start : trim.end] /= np.float32(plan.gain)
