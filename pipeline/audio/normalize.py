"""The audio stage: a creator's recording in, the published MP3 and the speech model's input out.

    decode once (ffmpeg, streamed) -> down-mix (twin stereo -> mono) -> resample to 44.1/48 kHz
    -> measure the input + 80 Hz high-pass (one pass) -> trim silence at both ends
    -> gain to -16 LUFS with a true-peak look-ahead limiter, measured and corrected
    -> MP3 (ffmpeg/libmp3lame, streamed) -> decode the MP3 and measure it; correct and re-encode if it missed
    -> ID3v2.4 tags; 16 kHz mono WAV for the speech model; loudness.json

The speech model's WAV is written first, while the MP3 is encoded, and `speech_ready` is called
as soon as it is there: transcription can start while the MP3 is still encoded and measured.

The original recording is only read. Every file is written beside its final name and renamed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pipeline.audio.decode import AudioInfo, decode_audio, probe_audio, resample, stream_decode
from pipeline.audio.dsp import Analysis, GainPlan, Trim, analyze, apply_plan, find_trim, plan_gain
from pipeline.audio.encode import Id3Tags, encode_mp3, retag_atomic, tag_file, write_speech_wav
from pipeline.audio.measure import (
    ABSOLUTE_GATE_LUFS,
    LoudnessMeter,
    Measurement,
    db_to_gain,
    gain_to_db,
    loudness_of,
    sub_blocks,
)
from pipeline.audio.speech import detect_speech, has_speech
from pipeline.config import AudioSettings
from pipeline.errors import AudioDecodeError
from pipeline.layout import EpisodeLayout
from pipeline.models import LoudnessReport
from pipeline.store import atomic_path, write_model

__all__ = ["AudioInfo", "Id3Tags", "normalize_audio", "probe_audio", "write_tags"]

log = logging.getLogger(__name__)

# Shorter than this is not an episode (and too short for a 400 ms loudness block anyway).
MIN_EPISODE_S = 1.0
# Quieter than this (integrated), the speech detector decides: a quiet phone call (−62 to −66 LUFS)
# is speech, an unplugged microphone's hiss is not (audio_speech says what was measured).
NO_SOUND_LUFS = -60.0
# A quiet recording with speech in it is first raised to this level, then processed as any other.
QUIET_RAISED_LUFS = -30.0
# The limiter aims this far under the ceiling; the MP3 encoder's own overshoot fits in between.
ENCODER_MARGIN_DB = 0.8
# After encoding, the MP3 must be this close to the target, else the gain is corrected.
MP3_TOLERANCE_LU = 0.2
MAX_ENCODES = 3
# A decode this much shorter than the container announces means a cut-off file.
TRUNCATION_TOLERANCE_S = 1.0
VERIFY_CHUNK = 1 << 21
# The encoder's loudness loss is measured on this much of the middle of the episode.
CALIBRATION_S = 30.0
LOSS_NEGLIGIBLE_LU = 0.02


def write_tags(mp3: Path, tags: Id3Tags) -> None:
    """Re-tag a published MP3 without re-encoding it (e.g. after the title changed)."""
    retag_atomic(mp3, tags)


@dataclass(frozen=True)
class _Encoded:
    plan: GainPlan
    measured: Measurement
    encodes: int


def normalize_audio(
    source: Path,
    layout: EpisodeLayout,
    *,
    settings: AudioSettings,
    tags: Id3Tags,
    speech_ready: Callable[[], None] | None = None,
) -> LoudnessReport:
    """Normalize `source` into layout.master_mp3, layout.speech_wav and layout.loudness_json;
    `speech_ready()` is called once layout.speech_wav is written (the MP3 may still be encoding)."""
    info = probe_audio(source)
    decoded = decode_audio(info)
    warnings = _check_decoded(info, decoded.duration_s)
    rate = settings.sample_rate_hz
    x, input_rate, input_channels, input_layout = (
        decoded.samples,
        decoded.rate,
        decoded.input_channels,
        decoded.layout,
    )
    del decoded  # hold one copy of the audio, not two
    x = resample(x, input_rate, rate)
    analysis = analyze(x, rate, highpass_hz=settings.highpass_hz)
    analysis, raised_db = _raise_quiet_speech(info, x, analysis, rate, settings, warnings)
    trim = _trim_or_fail(info, analysis, rate, x.shape[1], settings)
    layout.audio_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(layout.master_mp3) as mp3_tmp:
        encoded = _encode_to_target(x, analysis, trim, rate, settings, (mp3_tmp, layout.speech_wav), speech_ready)
        tag_file(mp3_tmp, tags)
    report = _report(
        info,
        analysis=analysis,
        trim=trim,
        rate=rate,
        x=x,
        settings=settings,
        encoded=encoded,
        input=(input_channels, input_layout),
        warnings=warnings,
        raised_db=raised_db,
    )
    write_model(layout.loudness_json, report)
    log.info(
        "%s: %.1f LUFS -> %.1f LUFS, true peak %.1f dBTP, %.1f s trimmed at start",
        source.name,
        report.input_lufs or float("nan"),
        report.output_lufs or float("nan"),
        report.output_true_peak_dbtp or float("nan"),
        report.trimmed_start_s,
    )
    return report


def _check_decoded(info: AudioInfo, duration_s: float) -> list[str]:
    if duration_s < MIN_EPISODE_S:
        raise AudioDecodeError(
            f"{info.path.name} holds only {duration_s:.1f} s of audio, too short for an episode "
            f"(at least {MIN_EPISODE_S:.0f} s); drop the full recording"
        )
    warnings = []
    if info.duration_s - duration_s > TRUNCATION_TOLERANCE_S:
        msg = (
            f"{info.path.name} looks truncated: only {duration_s:.1f} s of the announced "
            f"{info.duration_s:.1f} s could be decoded; re-export it if the end is missing"
        )
        log.warning(msg)
        warnings.append(msg)
    return warnings


def _quiet_level(analysis: Analysis) -> tuple[float, str]:
    """How loud a very quiet recording is (LUFS, or an estimate under the meter's gate), and in words."""
    loudness = analysis.input.integrated_lufs
    if loudness is not None:
        return loudness, f"at {loudness:.0f} LUFS"
    energy = analysis.frame_energy[analysis.frame_energy > 0]
    estimate = float(10.0 * np.log10(np.percentile(energy, 95))) if energy.size else -150.0
    return estimate, f"below {ABSOLUTE_GATE_LUFS:.0f} LUFS"


def _raise_quiet_speech(
    info: AudioInfo, x: np.ndarray, analysis: Analysis, rate: int, settings: AudioSettings, warnings: list[str]
) -> tuple[Analysis, float]:
    """Under NO_SOUND_LUFS the speech detector decides: speech is raised (in place) to
    QUIET_RAISED_LUFS with a warning; no speech is refused, saying how quiet and what to do."""
    loudness = analysis.input.integrated_lufs
    if analysis.input.true_peak_dbtp is None:
        return analysis, 0.0  # digital silence: _trim_or_fail says so
    n = x.shape[1]
    if loudness is not None and loudness >= NO_SOUND_LUFS and find_trim(
        analysis.frame_energy, rate, n, max_silence_s=settings.max_silence_s
    ) is not None:
        return analysis, 0.0
    level_lufs, level = _quiet_level(analysis)
    found = detect_speech(x, rate)
    if not has_speech(found):
        raise AudioDecodeError(
            f"{info.path.name} holds no speech that can be heard: it is {level} (episodes are published at "
            f"{settings.target_lufs:.0f} LUFS) and speech detection found {found.speech_s:.1f} s of speech; check "
            "that the right track was exported and the microphone was on, or raise its level in an audio editor "
            "(to about -30 LUFS) and drop it again"
        )
    raised_db = QUIET_RAISED_LUFS - level_lufs
    x *= np.float32(db_to_gain(raised_db))
    raised = replace(analyze(x, rate, highpass_hz=0.0), input=analysis.input)  # already high-passed
    message = (
        f"{info.path.name} is very quiet ({level.removeprefix('at ')}): speech detection found "
        f"{found.speech_s:.0f} s of speech, "
        f"so it was raised by {raised_db:.0f} dB, its background noise with it; next time record closer to "
        "the microphone or with more input gain"
    )
    log.warning(message)
    warnings.append(message)
    return raised, raised_db


def _trim_or_fail(info: AudioInfo, analysis: Analysis, rate: int, n: int, settings: AudioSettings) -> Trim:
    trim = find_trim(analysis.frame_energy, rate, n, max_silence_s=settings.max_silence_s)
    if trim is None or analysis.input.true_peak_dbtp is None:
        raise AudioDecodeError(
            f"{info.path.name} has no sound (digital silence); check that the right track was exported "
            "and the microphone was on"
        )
    return trim


def _encode_to_target(
    x: np.ndarray,
    analysis: Analysis,
    trim: Trim,
    rate: int,
    settings: AudioSettings,
    paths: tuple[Path, Path],
    speech_ready: Callable[[], None] | None,
) -> _Encoded:
    """Plan, apply and encode; measure the decoded MP3 and redo it while it misses the target.

    libmp3lame returns every signal a few tenths of a dB quieter (0.3-0.45 dB measured here, even on
    a sine tone), so the plan aims above the target by the loss measured on an excerpt first.
    The speech model's WAV is written from the first plan's samples while the encoder runs, once:
    a correction changes the gain by tenths of a dB and no time, and the WAV may already be in use.
    """
    mp3, speech_wav = paths
    sub = rate // 10
    hp_lufs = loudness_of(sub_blocks(analysis.hp_frame_energy[-(-trim.start // sub) * 10 : trim.end // sub * 10]))
    assert hp_lufs is not None  # _trim_or_fail found sound between the trims
    channels = x.shape[0]
    bitrate = settings.bitrate_mono_kbps if channels == 1 else settings.bitrate_stereo_kbps
    aim, threshold_db = settings.target_lufs, settings.ceiling_dbtp - ENCODER_MARGIN_DB

    def plan_and_apply(aim: float, gain: float) -> GainPlan:
        plan = plan_gain(x, analysis, trim, rate, target_lufs=aim, threshold=db_to_gain(threshold_db), gain=gain)
        apply_plan(x, plan, trim, block=analysis.block)
        return plan

    gain = db_to_gain(aim - hp_lufs)
    loss = _encoder_loss(x[:, trim.start : trim.end], rate, mp3, gain=gain, bitrate_kbps=bitrate)
    if abs(loss) > LOSS_NEGLIGIBLE_LU:
        aim += loss
        gain *= db_to_gain(loss)
    plan = plan_and_apply(aim, gain)
    for attempt in range(1, MAX_ENCODES + 1):
        published = x[:, trim.start : trim.end]
        with ThreadPoolExecutor(max_workers=1) as pool:
            job = pool.submit(encode_mp3, published, rate, mp3, bitrate_kbps=bitrate)
            if attempt == 1:
                write_speech_wav(published, rate, speech_wav)
                if speech_ready is not None:
                    speech_ready()
            job.result()
        measured = measure_file(mp3, rate=rate, channels=channels, expected_peak_dbtp=threshold_db)
        miss_lu = settings.target_lufs - (measured.integrated_lufs or settings.target_lufs)
        over_db = (measured.true_peak_dbtp or -99.0) - settings.ceiling_dbtp
        if (abs(miss_lu) <= MP3_TOLERANCE_LU and over_db <= 0) or attempt == MAX_ENCODES:
            return _Encoded(plan=plan, measured=measured, encodes=attempt)
        log.info("MP3 missed by %.2f LU, %.2f dB over the ceiling: correcting", miss_lu, max(over_db, 0))
        apply_plan(x, plan, trim, block=analysis.block, undo=True)
        aim += miss_lu
        if over_db > 0:
            threshold_db -= over_db + 0.2
        plan = plan_and_apply(aim, plan.gain * db_to_gain(miss_lu))
    raise AssertionError("unreachable")


def _encoder_loss(y: np.ndarray, rate: int, beside: Path, *, gain: float, bitrate_kbps: int) -> float:
    """How much quieter (LU) the MP3 encoder makes the middle CALIBRATION_S of `y` times `gain`."""
    span = min(y.shape[1], int(CALIBRATION_S * rate))
    mid = (y.shape[1] - span) // 2
    excerpt = y[:, mid : mid + span] * np.float32(gain)
    np.clip(excerpt, -1.0, 1.0, out=excerpt)
    before = LoudnessMeter(rate, y.shape[0], true_peak=False)
    before.feed(excerpt)
    fd, name = tempfile.mkstemp(prefix=".calibration.", suffix=".mp3", dir=beside.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        encode_mp3(excerpt, rate, tmp, bitrate_kbps=bitrate_kbps)
        after = measure_file(tmp, rate=rate, channels=y.shape[0]).integrated_lufs
    finally:
        tmp.unlink(missing_ok=True)
    pre = before.result().integrated_lufs
    if pre is None or after is None:
        return 0.0
    return pre - after


def measure_file(path: Path, *, rate: int, channels: int, expected_peak_dbtp: float | None = None) -> Measurement:
    """Loudness, LRA and true peak of an audio file as a player decodes it (ffmpeg, streamed)."""
    meter = LoudnessMeter(rate, channels, expected_peak_dbtp=expected_peak_dbtp)
    for chunk in stream_decode(path, rate=rate, channels=channels, chunk_samples=VERIFY_CHUNK):
        meter.feed(chunk)
    return meter.result()


def _report(
    info: AudioInfo,
    *,
    analysis: Analysis,
    trim: Trim,
    rate: int,
    x: np.ndarray,
    settings: AudioSettings,
    encoded: _Encoded,
    input: tuple[int, str],
    warnings: list[str],
    raised_db: float,
) -> LoudnessReport:
    n = x.shape[1]
    channels = x.shape[0]
    return LoudnessReport(
        target_lufs=settings.target_lufs,
        ceiling_dbtp=settings.ceiling_dbtp,
        input_lufs=_round(analysis.input.integrated_lufs),
        input_lra_lu=_round(analysis.input.lra_lu),
        input_true_peak_dbtp=_round(analysis.input.true_peak_dbtp),
        output_lufs=_round(encoded.measured.integrated_lufs),
        output_lra_lu=_round(encoded.measured.lra_lu),
        output_true_peak_dbtp=_round(encoded.measured.true_peak_dbtp),
        input_duration_s=round(n / rate, 3),
        duration_s=round(encoded.measured.duration_s, 3),
        trimmed_start_s=round(trim.start / rate, 3),
        trimmed_end_s=round((n - trim.end) / rate, 3),
        offset_s=round(trim.start / rate, 3),
        input_sample_rate_hz=info.sample_rate_hz,
        input_channels=input[0],
        input_layout=input[1],
        output_channels=channels,
        bitrate_kbps=settings.bitrate_mono_kbps if channels == 1 else settings.bitrate_stereo_kbps,
        gain_db=round(gain_to_db(encoded.plan.gain) + raised_db, 2),
        limited=encoded.plan.limited,
        limiter_max_reduction_db=round(encoded.plan.limited_db, 2),
        encodes=encoded.encodes,
        warnings=warnings,
    )


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)
