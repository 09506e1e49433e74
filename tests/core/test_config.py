"""Settings: file, environment, front matter; bad values name the key, the value and what is allowed."""

from __future__ import annotations

import json

import pytest

from pipeline.config import load_settings, parse_episode_meta
from pipeline.errors import ConfigError
from pipeline.store import write_json


def test_file_then_environment(tmp_path, monkeypatch):
    config = tmp_path / "diptych.toml"
    config.write_text('[show]\ntitle = "Mon show"\n[audio]\ntarget_lufs = -19\n', encoding="utf-8")
    settings = load_settings(config)
    assert settings.show.title == "Mon show" and settings.audio.target_lufs == -19
    monkeypatch.setenv("DIPTYCH_AUDIO__TARGET_LUFS", "-14")
    monkeypatch.setenv("DIPTYCH_SHOW__TITLE", "Autre")
    settings = load_settings(config)
    assert settings.audio.target_lufs == -14 and settings.show.title == "Autre"


def test_missing_file_gives_defaults(tmp_path):
    settings = load_settings(tmp_path / "absent.toml")
    assert settings.audio.target_lufs == -16 and settings.audio.ceiling_dbtp == -1
    assert settings.transcribe.engine == "openai-whisper"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[audio]\ntarget_lufs = -50\n",
         "audio.target_lufs = -50 is not allowed: Input should be greater than or equal to -31"),
        ("[transcribe]\nengine = \"vosk\"\n", "transcribe.engine = 'vosk' is not allowed"),
        ("[audio]\ntarget_lufz = -16\n", "unknown setting 'audio.target_lufz'"),
    ],
)
def test_bad_values_are_reported_with_key_value_and_rule(tmp_path, toml, expected):
    config = tmp_path / "diptych.toml"
    config.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_broken_toml_names_the_file(tmp_path):
    config = tmp_path / "diptych.toml"
    config.write_text("[show\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="diptych.toml: not valid TOML"):
        load_settings(config)


def test_front_matter_overrides_and_validates():
    meta = parse_episode_meta({"title": "T", "episode": 3, "date": "2026-03-31", "extra": 1}, source="a.md")
    assert meta.episode == 3 and meta.date.isoformat() == "2026-03-31"
    with pytest.raises(ConfigError, match="a.md front matter.*episode = 'three'"):
        parse_episode_meta({"episode": "three"}, source="a.md")


def test_json_written_sorted_with_trailing_newline(tmp_path):
    path = tmp_path / "x.json"
    write_json(path, {"b": 1, "a": "é"})
    text = path.read_text(encoding="utf-8")
    assert text == '{\n  "a": "é",\n  "b": 1\n}\n'
    assert json.loads(text) == {"a": "é", "b": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temporary file left behind
