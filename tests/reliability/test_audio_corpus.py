"""Recordings: what the audio stage refuses in one line, and what it takes (quiet speech included).

Files are made with ffmpeg in tmp_path from the real recordings in ../shared/testdata/speech.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import episodes
from pipeline.config import load_settings
from pipeline.errors import AudioDecodeError
from pipeline.inbox import claim_drops
from pipeline.models import LoudnessReport
from pipeline.stages import run_normalize
from pipeline.store import read_model
from tests.reliability.corpus import Show, ffmpeg, one_line

CLIP = "fleurs-en-000.ogg"  # real English speech, about 10 s


def _claim(show: Show, name: str, audio: Path | bytes) -> str:
    data = audio.read_bytes() if isinstance(audio, Path) else audio
    show.write(name, data)
    show.write(f"{Path(name).stem}.md", "# An episode\n\nIts article.\n")
    show.mark()
    (slug,) = claim_drops(show.project, settle_s=0).claimed
    return slug


def _normalize(show: Show, slug: str) -> LoudnessReport:
    run_normalize(show.project, load_settings(show.project.config_file), slug)
    return read_model(show.project.episode(slug).loudness_json, LoudnessReport)


def _refused(show: Show, slug: str) -> str:
    with pytest.raises(AudioDecodeError) as caught:
        _normalize(show, slug)
    assert not show.project.episode(slug).master_mp3.exists()
    return one_line(str(caught.value))


def test_an_empty_recording_is_refused_in_one_line(show: Show) -> None:
    slug = _claim(show, "empty.mp3", b"")
    assert "empty.mp3" in _refused(show, slug)
    show.check()


def test_a_text_renamed_as_a_recording_is_refused_in_one_line(show: Show) -> None:
    slug = _claim(show, "renamed.mp3", b"# this is Markdown, not audio\n\nJust text.\n")
    assert "renamed.mp3" in _refused(show, slug)
    show.check()


def test_a_truncated_recording_is_published_as_far_as_it_goes_with_a_warning(show: Show, speech: Path,
                                                                              tmp_path: Path) -> None:
    full = tmp_path / "full.mp3"
    ffmpeg("-i", str(speech / CLIP), "-c:a", "libmp3lame", "-b:a", "64k", str(full))
    data = full.read_bytes()
    slug = _claim(show, "cut.mp3", data[: len(data) // 2 + 1])  # its header still announces the whole length
    report = _normalize(show, slug)
    assert abs((report.output_lufs or 0) + 16) <= 0.5
    record = episodes.load_record(show.project.episode(slug))
    assert any(w.startswith("cut.mp3 looks truncated") for w in record.warnings)


def test_a_wav_cut_in_the_middle_of_a_sample_is_decoded_as_far_as_it_goes(show: Show, speech: Path,
                                                                          tmp_path: Path) -> None:
    full = tmp_path / "full.wav"
    ffmpeg("-i", str(speech / CLIP), "-ar", "44100", "-ac", "1", str(full))
    data = full.read_bytes()
    start = data.index(b"data") + 8  # the samples: 2 bytes each
    cut = start + (len(data) - start) // 4 * 2 + 1  # half of them, and one byte of the next
    report = _normalize(show, _claim(show, "cut.wav", data[:cut]))
    assert abs((report.output_lufs or 0) + 16) <= 0.5
    show.check()


def test_a_recording_of_a_third_of_a_second_is_refused(show: Show, tmp_path: Path) -> None:
    clip = tmp_path / "short.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=0.3", str(clip))
    line = _refused(show, _claim(show, "short.wav", clip))
    assert line.startswith("short.wav holds only 0.3 s of audio, too short for an episode")
    show.check()


def test_digital_silence_is_refused(show: Show, tmp_path: Path) -> None:
    clip = tmp_path / "silence.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono", "-t", "5", str(clip))
    line = _refused(show, _claim(show, "silence.wav", clip))
    assert line.startswith("silence.wav has no sound (digital silence)")
    show.check()


@pytest.mark.parametrize(
    "source",
    [
        "anoisesrc=c=pink:a=0.003:d=8",  # an unplugged microphone's hiss
        "anoisesrc=c=brown:a=0.004:d=8",  # rumble
        "sine=f=50:d=8,volume=-62dB",  # mains hum
    ],
)
def test_quiet_noise_without_speech_is_refused_saying_how_quiet_and_what_to_do(show: Show, tmp_path: Path,
                                                                               source: str) -> None:
    clip = tmp_path / "hiss.wav"
    ffmpeg("-f", "lavfi", "-i", source, "-c:a", "pcm_s16le", str(clip))
    line = _refused(show, _claim(show, "hiss.wav", clip))
    assert line.startswith(("hiss.wav holds no speech that can be heard: it is at -6",
                            "hiss.wav holds no speech that can be heard: it is below -70 LUFS"))
    assert "LUFS" in line and "raise its level" in line and "microphone was on" in line
    show.check()


@pytest.mark.parametrize("lufs", [-62, -64, -66])
def test_quiet_real_speech_is_accepted_and_raised(show: Show, speech: Path, tmp_path: Path, lufs: int) -> None:
    """A quiet phone recording: real speech lowered to `lufs` over a -86 dBFS noise floor, 16-bit."""
    clip = tmp_path / "quiet.wav"
    ffmpeg("-i", str(speech / CLIP), "-f", "lavfi", "-i", "anoisesrc=c=pink:a=0.00005:d=30", "-filter_complex",
           f"[0:a]loudnorm=I=-23:LRA=20:TP=-2:linear=true,volume={lufs + 23}dB,aresample=44100[a];"
           "[a][1:a]amix=inputs=2:duration=first:normalize=0", "-ac", "1", "-c:a", "pcm_s16le", str(clip))
    slug = _claim(show, "quiet.wav", clip)
    report = _normalize(show, slug)
    assert report.input_lufs is not None and lufs - 3 <= report.input_lufs <= lufs + 3
    assert abs((report.output_lufs or 0) + 16) <= 0.3
    warnings = episodes.load_record(show.project.episode(slug)).warnings
    assert any(w.startswith("quiet.wav is very quiet (") and "speech detection found" in w for w in warnings)
    show.check()


@pytest.mark.parametrize(
    ("name", "args", "channels"),
    [
        ("phone.wav", ["-ar", "8000", "-ac", "1"], 1),
        ("studio.wav", ["-ar", "96000", "-c:a", "pcm_s24le", "-ac", "2"], 1),  # twin stereo: mono out
        ("surround.wav", ["-af", "pan=5.1|c0=c0|c1=c0|c2=c0|c3=0.1*c0|c4=0.5*c0|c5=0.4*c0"], 2),
    ],
)
def test_unusual_formats_come_out_at_podcast_loudness(show: Show, speech: Path, tmp_path: Path, name: str,
                                                      args: list[str], channels: int) -> None:
    clip = tmp_path / name
    ffmpeg("-i", str(speech / CLIP), *args, str(clip))
    report = _normalize(show, _claim(show, name, clip))
    assert abs((report.output_lufs or 0) + 16) <= 0.3 and (report.output_true_peak_dbtp or 0) <= -1.0
    assert report.output_channels == channels
    show.check()
