"""The audio stage, with real ffmpeg, pydub, mutagen and pyloudnorm on real recordings.

Acceptance is measured on the published MP3 as a player decodes it: loudness with pyloudnorm,
true peak with ffmpeg's own ebur128 meter (independent of diptych's).
"""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from mutagen.id3 import ID3
from mutagen.mp3 import MP3
from scipy import signal

from pipeline.audio.measure import LoudnessMeter
from pipeline.audio.normalize import Id3Tags, normalize_audio, probe_audio, write_tags
from pipeline.config import AudioSettings
from pipeline.errors import AudioDecodeError
from pipeline.layout import EpisodeLayout
from pipeline.models import LoudnessReport
from pipeline.store import read_model, sha256_file

RATE = 44100
SETTINGS = AudioSettings()


# ---------------------------------------------------------------- helpers


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin", *args], check=True)


def decode(path: Path, *, rate: int = RATE, channels: int | None = None) -> np.ndarray:
    """(samples, channels) float64, as a player would decode the file."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-f", "f32le", "-ar", str(rate)]
    if channels:
        cmd += ["-ac", str(channels)]
    out = subprocess.run([*cmd, "-"], capture_output=True, check=True).stdout
    ch = channels or probe_audio(path).channels
    return np.frombuffer(out, dtype=np.float32).reshape(-1, ch).astype(np.float64)


def write_wav(path: Path, x: np.ndarray, rate: int = RATE) -> Path:
    """16-bit PCM WAV of x: (samples,) or (samples, channels) float in [-1, 1]."""
    x = x if x.ndim == 2 else x[:, np.newaxis]
    raw = np.clip(np.rint(x * 32768.0), -32768, 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(x.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(raw)
    return path


def ebur128_true_peak(path: Path) -> float:
    proc = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(re.findall(r"Peak:\s+(-?[\d.]+|-inf) dBFS", proc.stderr)[-1])


def lufs(x: np.ndarray, rate: int = RATE) -> float:
    return float(pyloudnorm.Meter(rate).integrated_loudness(x))


def tags(**over: object) -> Id3Tags:
    values: dict[str, object] = dict(
        title="Épisode 3 : « le pain »",
        artist="Jeanne Dupont",
        album="La boulange",
        date="2026-03-01",
        track=3,
        comment="On parle de levain.",
        language="fr",
        cover=None,
    )
    values.update(over)
    return Id3Tags(**values)  # type: ignore[arg-type]


def run(source: Path, tmp_path: Path, **settings: object) -> tuple[LoudnessReport, EpisodeLayout]:
    layout = EpisodeLayout(root=tmp_path / "episode", slug="episode")
    report = normalize_audio(source, layout, settings=AudioSettings(**settings), tags=tags())  # type: ignore[arg-type]
    return report, layout


@pytest.fixture(scope="module")
def voice(speech: Path) -> np.ndarray:
    """34 s of real French speech, mono float64 at 44.1 kHz."""
    return decode(speech / "ej-fra.m4a", channels=1)[:, 0]


def assert_on_target(mp3: Path) -> np.ndarray:
    y = decode(mp3)
    assert abs(lufs(y) - SETTINGS.target_lufs) <= 0.5
    assert ebur128_true_peak(mp3) <= SETTINGS.ceiling_dbtp
    return y


def scaled_to(x: np.ndarray, target_lufs: float) -> np.ndarray:
    return x * 10 ** ((target_lufs - lufs(x)) / 20)


# ---------------------------------------------------------------- measurement


def test_meter_matches_pyloudnorm(voice: np.ndarray, speech: Path) -> None:
    stereo = np.stack([voice, np.roll(voice, 4410) * 0.5], axis=1)
    for x in (voice[:, np.newaxis], stereo):
        meter = LoudnessMeter(RATE, x.shape[1])
        for start in range(0, x.shape[0], 100_000):  # uneven chunks on purpose
            meter.feed(x[start : start + 100_000].T.astype(np.float32))
        result = meter.result()
        reference = pyloudnorm.Meter(RATE)
        assert result.integrated_lufs == pytest.approx(reference.integrated_loudness(x), abs=0.1)
        assert result.lra_lu == pytest.approx(reference.loudness_range(x), abs=1.0)
    long = decode(speech / "udhr-preamble-en.mp3", channels=1)
    meter = LoudnessMeter(RATE, 1)
    meter.feed(long.T.astype(np.float32))
    assert meter.result().integrated_lufs == pytest.approx(lufs(long), abs=0.1)


# ---------------------------------------------------------------- acceptance


@pytest.mark.parametrize("level", [-35.0, -8.0])
def test_quiet_and_hot_recordings_reach_target(voice: np.ndarray, tmp_path: Path, level: float) -> None:
    x = np.clip(scaled_to(voice, level), -1.0, 1.0)  # the hot one clips, like an overdriven recorder
    source = write_wav(tmp_path / "in.wav", x)
    report, layout = run(source, tmp_path)
    assert_on_target(layout.master_mp3)
    assert report.output_lufs == pytest.approx(SETTINGS.target_lufs, abs=0.3)
    assert report.output_true_peak_dbtp is not None and report.output_true_peak_dbtp <= SETTINGS.ceiling_dbtp
    assert report.input_lufs == pytest.approx(lufs(x), abs=0.1)
    assert report.gain_db == pytest.approx(SETTINGS.target_lufs - level, abs=3.0)


def test_loud_transient_is_limited_without_breaking_the_ceiling(voice: np.ndarray, tmp_path: Path) -> None:
    x = scaled_to(voice, -20.0)
    rng = np.random.default_rng(7)
    clap_at = 10 * RATE
    burst = rng.uniform(-1, 1, int(0.03 * RATE)) * np.exp(-np.arange(int(0.03 * RATE)) / 300.0)
    x[clap_at : clap_at + burst.size] += burst  # a hand clap at 0 dBFS, ~20 dB over the speech peaks
    source = write_wav(tmp_path / "clap.wav", np.clip(x, -1, 1))
    report, layout = run(source, tmp_path)
    y = assert_on_target(layout.master_mp3)
    assert report.limited
    # The speech around the clap keeps its level: the limiter acts on the clap, not for seconds after.
    around = slice(int((10.5 - report.offset_s) * RATE), int((14 - report.offset_s) * RATE))
    reference = x[int(10.5 * RATE) : int(14 * RATE)] * 10 ** (report.gain_db / 20)
    ratio = np.sqrt(np.mean(y[around, 0] ** 2) / np.mean(reference**2))
    assert 0.8 < ratio < 1.25


def test_speech_is_kept_and_the_offset_is_right(voice: np.ndarray, tmp_path: Path) -> None:
    onset = int(np.argmax(np.abs(voice) > 0.1 * np.abs(voice).max()))  # the recording's first syllable
    x = np.concatenate([np.zeros(3 * RATE), scaled_to(voice[onset:], -23.0), np.zeros(2 * RATE)])
    source = write_wav(tmp_path / "late start.wav", x)
    report, layout = run(source, tmp_path)
    assert report.trimmed_start_s == pytest.approx(2.5, abs=0.1)
    assert report.offset_s == report.trimmed_start_s
    assert report.trimmed_end_s == pytest.approx(1.5, abs=0.6)
    published = decode(layout.master_mp3)[:, 0]
    assert published.size / RATE == pytest.approx(
        x.size / RATE - report.trimmed_start_s - report.trimmed_end_s, abs=0.05
    )
    assert report.duration_s == pytest.approx(published.size / RATE, abs=0.05)
    # Same speech at the same place: published time = original time - offset.
    lag, corr = _best_lag(x[int(report.offset_s * RATE) :], published)
    assert abs(lag) <= 0.002 * RATE
    assert corr > 0.9
    # The speech model's input: 16 kHz mono 16-bit, the same audio and length as the MP3.
    with wave.open(str(layout.speech_wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert w.getnframes() / 16000 == pytest.approx(published.size / RATE, abs=0.05)
        speech16 = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16) / 32768.0
    _, corr16 = _best_lag(signal.resample_poly(published, 160, 441), speech16, rate=16000)
    assert corr16 > 0.95
    saved = read_model(layout.loudness_json, LoudnessReport)
    assert saved == report
    assert sorted(p.name for p in layout.audio_dir.iterdir()) == [
        "loudness.json",
        "master.mp3",
        "speech-16k.wav",
    ]


def _best_lag(a: np.ndarray, b: np.ndarray, rate: int = RATE) -> tuple[int, float]:
    """Lag of b against a (samples) and their normalized correlation there, in the speech band
    (300-3400 Hz, zero-phase), over the first 20 s."""
    n = min(a.size, b.size, 20 * rate)
    band = signal.butter(4, [300, 3400], btype="bandpass", fs=rate, output="sos")
    a, b = signal.sosfiltfilt(band, a[:n]), signal.sosfiltfilt(band, b[:n])
    c = signal.correlate(b, a, mode="full", method="fft")
    k = int(np.argmax(c))
    return k - (n - 1), float(c[k] / np.sqrt(np.dot(a, a) * np.dot(b, b)))


def test_original_is_untouched_and_tags_read_back(voice: np.ndarray, tmp_path: Path) -> None:
    source = write_wav(tmp_path / "in.wav", scaled_to(voice, -20.0))
    before = sha256_file(source)
    cover = tmp_path / "cover.png"
    ffmpeg("-f", "lavfi", "-i", "color=c=orange:s=64x64", "-frames:v", "1", str(cover))
    layout = EpisodeLayout(root=tmp_path / "episode", slug="episode")
    normalize_audio(source, layout, settings=SETTINGS, tags=tags(cover=cover))
    assert sha256_file(source) == before
    id3 = ID3(str(layout.master_mp3))
    assert id3.version[:2] == (2, 4)
    assert str(id3["TIT2"]) == "Épisode 3 : « le pain »"
    assert str(id3["TPE1"]) == "Jeanne Dupont"
    assert str(id3["TALB"]) == "La boulange"
    assert str(id3["TDRC"]) == "2026-03-01"
    assert str(id3["TRCK"]) == "3"
    assert str(id3["TLAN"]) == "fra"
    assert id3.getall("COMM")[0].text == ["On parle de levain."]
    apic = id3.getall("APIC")[0]
    assert apic.mime == "image/png" and apic.data == cover.read_bytes()
    info = MP3(str(layout.master_mp3)).info
    assert (info.sample_rate, info.channels, info.bitrate // 1000) == (44100, 1, 96)

    audio_md5 = _audio_md5(layout.master_mp3)
    write_tags(layout.master_mp3, tags(title="Un autre titre", cover=None))
    id3 = ID3(str(layout.master_mp3))
    assert str(id3["TIT2"]) == "Un autre titre"
    assert not id3.getall("APIC")
    assert _audio_md5(layout.master_mp3) == audio_md5  # re-tagged, not re-encoded


def _audio_md5(mp3: Path) -> str:
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(mp3), "-map", "0:a", "-f", "md5", "-"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


# ---------------------------------------------------------------- channels


def test_dual_mono_becomes_mono_and_real_stereo_stays_stereo(voice: np.ndarray, tmp_path: Path) -> None:
    x = scaled_to(voice, -22.0)
    twin = write_wav(tmp_path / "twin.wav", np.stack([x, x * 0.999], axis=1))
    report, layout = run(twin, tmp_path / "a")
    assert (report.input_channels, report.output_channels, report.input_layout) == (2, 1, "dual-mono")
    assert MP3(str(layout.master_mp3)).info.channels == 1

    other = np.roll(x, RATE // 3) * 0.7
    stereo = write_wav(tmp_path / "stereo.wav", np.stack([x, other], axis=1))
    report, layout = run(stereo, tmp_path / "b")
    assert (report.output_channels, report.bitrate_kbps) == (2, 128)
    info = MP3(str(layout.master_mp3)).info
    assert (info.channels, info.bitrate // 1000) == (2, 128)
    assert_on_target(layout.master_mp3)


def test_six_channel_file_is_down_mixed(voice: np.ndarray, tmp_path: Path) -> None:
    x = scaled_to(voice, -24.0)[: 12 * RATE]
    channels = np.zeros((x.size, 6))
    channels[:, 2] = x  # the voice in the centre channel, as in a film mix
    channels[:, 4] = channels[:, 5] = np.roll(x, 2000) * 0.1  # a little room in the surrounds
    source = tmp_path / "surround.flac"
    ffmpeg("-i", str(write_wav(tmp_path / "s.wav", channels)), "-channel_layout", "5.1", str(source))
    report, layout = run(source, tmp_path)
    assert report.input_channels == 6
    # Folded to stereo (ITU-R BS.775), whose two sides are then the same: published as mono.
    assert (report.output_channels, report.input_layout) == (1, "surround, dual-mono")
    assert_on_target(layout.master_mp3)


@pytest.mark.parametrize("name", ["ej-fra.m4a", "fleurs-fr-001.ogg"])
def test_the_streamed_decoding_gives_pydubs_samples(speech: Path, tmp_path: Path, name: str) -> None:
    """The recording is decoded in blocks (no whole-file buffers): the same 16-bit samples as
    pydub's AudioSegment.from_file with the file's decoder named (the way they were read before), at
    the same rate, mixed down the same way."""
    from pydub import AudioSegment

    from pipeline.audio.decode import decode_audio

    twin = tmp_path / "twin.m4a"  # a stereo export of a mono voice
    ffmpeg("-i", str(speech / name), "-ac", "1", "-c:a", "aac", "-ac", "2", str(twin))
    for source in (speech / name, twin):
        info = probe_audio(source)
        decoded = decode_audio(info)
        segment = AudioSegment.from_file(str(source), codec=info.codec)
        assert segment.sample_width == 2
        frames = np.frombuffer(segment.raw_data, dtype="<i2").reshape(-1, segment.channels).T / 32768.0
        expected = frames.mean(axis=0, keepdims=True) if decoded.layout in ("dual-mono", "mono") else frames
        assert decoded.rate == segment.frame_rate and decoded.input_channels == segment.channels
        assert decoded.samples.shape == expected.shape and expected.shape[1] > 4 * decoded.rate
        assert np.abs(decoded.samples - expected).max() < 1e-6


def test_the_streamed_mp3_is_the_one_pydub_wrote(speech: Path, tmp_path: Path) -> None:
    """The MP3 is fed to ffmpeg a block at a time: the same MPEG frames, byte for byte, as pydub's
    AudioSegment.export (the way it was written before, from one whole-episode buffer), on a real
    recording longer than several blocks, mono and stereo."""
    from pydub import AudioSegment

    from pipeline.audio.decode import decode_audio
    from pipeline.audio.encode import ENCODE_BLOCK, LAME_QUALITY, encode_mp3, to_pcm16

    x = decode_audio(probe_audio(speech / "ej-fra.m4a")).samples
    for channels in (x, np.vstack([x, np.roll(x, 441) * np.float32(0.5)])):
        assert channels.shape[1] > 3 * ENCODE_BLOCK
        ours, theirs = tmp_path / "ours.mp3", tmp_path / "theirs.mp3"
        encode_mp3(channels, 44100, ours, bitrate_kbps=96)
        pcm = to_pcm16(channels)
        segment = AudioSegment(data=pcm.tobytes(), sample_width=2, frame_rate=44100, channels=channels.shape[0])
        params = ["-compression_level", str(LAME_QUALITY)]
        segment.export(str(theirs), format="mp3", codec="libmp3lame", bitrate="96k", parameters=params).close()
        frames = [mpeg_frames(path) for path in (ours, theirs)]
        assert len(frames[0]) > 100_000 and frames[0] == frames[1]
        assert MP3(str(ours)).info.channels == channels.shape[0]


def mpeg_frames(path: Path) -> bytes:
    """The file's audio, without its ID3v2 tag (ffmpeg names its own version and the input there)."""
    data = path.read_bytes()
    if data[:3] == b"ID3":
        size = int.from_bytes(bytes(b & 0x7F for b in data[6:10]), "big")  # syncsafe
        data = data[10 + size :]
    return data


def test_a_failing_mp3_encoder_is_one_line_naming_the_file(tmp_path: Path) -> None:
    """ffmpeg refusing to write (here: the folder is gone) is an AudioEncodeError naming the MP3."""
    from pipeline.audio.encode import encode_mp3
    from pipeline.errors import AudioEncodeError

    x = np.zeros((1, 44100 * 3), np.float32)
    with pytest.raises(AudioEncodeError, match=r"cannot write episode\.mp3: ffmpeg's MP3 encoder failed"):
        encode_mp3(x, 44100, tmp_path / "missing" / "episode.mp3", bitrate_kbps=96)


# ---------------------------------------------------------------- formats and bad input


def test_telephone_8k_and_hires_96k_24bit_work(voice: np.ndarray, tmp_path: Path) -> None:
    x = scaled_to(voice, -20.0)[: 12 * RATE]
    phone = tmp_path / "phone.wav"
    ffmpeg("-i", str(write_wav(tmp_path / "a.wav", x)), "-ar", "8000", "-c:a", "pcm_s16le", str(phone))
    report, layout = run(phone, tmp_path / "phone")
    assert report.input_sample_rate_hz == 8000
    assert MP3(str(layout.master_mp3)).info.sample_rate == 44100
    assert_on_target(layout.master_mp3)

    hires = tmp_path / "hires.wav"
    ffmpeg("-i", str(write_wav(tmp_path / "b.wav", x)), "-ar", "96000", "-c:a", "pcm_s24le", str(hires))
    assert probe_audio(hires).bits_per_sample == 24
    report, layout = run(hires, tmp_path / "hires")
    assert report.input_sample_rate_hz == 96000
    assert_on_target(layout.master_mp3)


@pytest.mark.parametrize(
    "suffix,codec", [(".m4a", "aac"), (".ogg", "libopus"), (".webm", "libopus"), (".flac", "flac")]
)
def test_common_formats_decode(voice: np.ndarray, tmp_path: Path, suffix: str, codec: str) -> None:
    source = tmp_path / f"in{suffix}"
    ffmpeg(
        "-i",
        str(write_wav(tmp_path / "a.wav", scaled_to(voice, -21.0)[: 6 * RATE])),
        "-c:a",
        codec,
        str(source),
    )
    report, layout = run(source, tmp_path)
    assert report.duration_s > 5.0
    assert abs(lufs(decode(layout.master_mp3)) - SETTINGS.target_lufs) <= 0.5


def test_odd_file_name_works(speech: Path, tmp_path: Path) -> None:
    source = tmp_path / 'L\'épisode « spécial » "final" n° 1.ogg'
    source.write_bytes((speech / "fleurs-fr-001.ogg").read_bytes())
    report, layout = run(source, tmp_path)
    assert layout.master_mp3.exists() and report.duration_s > 15


def test_truncated_mp3_is_published_as_far_as_it_goes(voice: np.ndarray, tmp_path: Path) -> None:
    full = tmp_path / "full.mp3"
    ffmpeg(
        "-i",
        str(write_wav(tmp_path / "a.wav", scaled_to(voice, -20.0))),
        "-c:a",
        "libmp3lame",
        "-b:a",
        "128k",
        str(full),
    )
    cut = tmp_path / "cut.mp3"
    data = full.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6) + 17])  # cut mid-frame, like an interrupted copy
    report, layout = run(cut, tmp_path)
    assert 15 < report.duration_s < 25
    assert report.warnings and "truncated" in report.warnings[0] and "cut.mp3" in report.warnings[0]
    assert abs(lufs(decode(layout.master_mp3)) - SETTINGS.target_lufs) <= 0.5


def _error(source: Path, tmp_path: Path) -> str:
    with pytest.raises(AudioDecodeError) as info:
        run(source, tmp_path)
    message = str(info.value)
    assert source.name in message and "\n" not in message
    assert not (tmp_path / "episode" / "audio" / "master.mp3").exists()
    return message


def test_empty_file_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "empty.mp3"
    source.write_bytes(b"")
    assert "empty" in _error(source, tmp_path)
    with pytest.raises(AudioDecodeError, match="empty"):
        probe_audio(source)


def test_text_renamed_mp3_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "notes.mp3"
    source.write_text("Ceci n'est pas un enregistrement.\n" * 40, encoding="utf-8")
    assert "not an audio file" in _error(source, tmp_path)


def test_too_short_clip_is_refused(voice: np.ndarray, tmp_path: Path) -> None:
    source = write_wav(tmp_path / "blip.wav", voice[RATE : RATE + int(0.3 * RATE)])
    assert "too short" in _error(source, tmp_path)


def test_silence_is_refused(tmp_path: Path) -> None:
    source = write_wav(tmp_path / "silence.wav", np.zeros(10 * RATE))
    assert "no sound" in _error(source, tmp_path)
    rng = np.random.default_rng(1)
    hiss = write_wav(tmp_path / "hiss.wav", rng.normal(0, 10 ** (-80 / 20), 10 * RATE))
    # Quiet hiss is not silence: speech detection finds no speech in it (issue 15).
    assert "holds no speech that can be heard: it is below -70 LUFS" in _error(hiss, tmp_path)


# ---------------------------------------------------------------- the limiter itself


def test_limiter_holds_true_peaks_under_threshold_with_smooth_gain(voice: np.ndarray) -> None:
    from pipeline.audio.dsp import analyze, apply_plan, find_trim, plan_gain
    from pipeline.audio.measure import OVERSAMPLE, db_to_gain

    x = scaled_to(voice, -18.0)
    x[5 * RATE : 5 * RATE + 40 : 2] += 0.9  # a click train, the worst case for inter-sample peaks
    audio = x[np.newaxis, :].astype(np.float32)
    analysis = analyze(audio, RATE, highpass_hz=80.0)
    trim = find_trim(analysis.frame_energy, RATE, audio.shape[1], max_silence_s=0.5)
    assert trim is not None
    before = audio.copy()
    threshold = db_to_gain(-2.0)
    plan = plan_gain(audio, analysis, trim, RATE, target_lufs=-14.0, threshold=threshold, gain=2.0)
    assert plan.limited and plan.output_lufs == pytest.approx(-14.0, abs=0.05)
    apply_plan(audio, plan, trim, block=analysis.block)
    true_peak = np.abs(signal.resample_poly(audio[0], OVERSAMPLE, 1)).max()
    assert true_peak <= threshold * 1.005
    # Measured the slow way (pyloudnorm on the whole result), the plan's loudness holds.
    assert lufs(audio[0, trim.start : trim.end].astype(np.float64)) == pytest.approx(-14.0, abs=0.1)
    # The gain moves by well under 1 % per sample: ramps, not steps (no clicks).
    moving = np.abs(before[0]) > 1e-3
    moving[: trim.start] = moving[trim.end :] = False
    applied = audio[0][moving] / (before[0][moving] * plan.gain)
    index = np.flatnonzero(moving)
    steps = np.abs(np.diff(applied))[np.diff(index) == 1]
    assert steps.max() < 0.01
    apply_plan(audio, plan, trim, block=analysis.block, undo=True)
    np.testing.assert_allclose(audio, before, atol=1e-5)


def test_48k_output_without_high_pass(voice: np.ndarray, tmp_path: Path) -> None:
    source = write_wav(tmp_path / "in.wav", scaled_to(voice, -19.0)[: 10 * RATE])
    report, layout = run(source, tmp_path, sample_rate_hz=48000, highpass_hz=0.0, target_lufs=-19.0)
    assert MP3(str(layout.master_mp3)).info.sample_rate == 48000
    y = decode(layout.master_mp3, rate=48000)
    assert abs(lufs(y, 48000) - (-19.0)) <= 0.5
    assert ebur128_true_peak(layout.master_mp3) <= SETTINGS.ceiling_dbtp
    assert report.target_lufs == -19.0


def test_the_speech_wav_is_ready_before_the_mp3(speech: Path, tmp_path: Path) -> None:
    """speech_ready is called with the whole speech WAV written and the MP3 not yet published, so
    that transcription can start while the MP3 is encoded and measured."""
    layout = EpisodeLayout(root=tmp_path / "episode", slug="episode")
    seen: list[tuple[float, bool]] = []

    def ready() -> None:
        with wave.open(str(layout.speech_wav)) as w:
            seen.append((w.getnframes() / w.getframerate(), layout.master_mp3.exists()))

    report = normalize_audio(speech / "ej-fra.m4a", layout, settings=SETTINGS, tags=tags(), speech_ready=ready)
    assert len(seen) == 1
    seconds, mp3_there = seen[0]
    assert seconds == pytest.approx(report.duration_s, abs=0.05) and not mp3_there
    assert layout.master_mp3.exists()
