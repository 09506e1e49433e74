"""Fast checks of the transcription helpers: no model, no recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.article.reader import Article, ArticleBlock
from pipeline.errors import AudioDecodeError, TranscriptionError
from pipeline.models import Segment, Word
from pipeline.transcribe.engines.base import ProgressClock
from pipeline.transcribe.guards import apply_guards, has_loop, is_silent, only_invented, spectral_flatness
from pipeline.transcribe.stage import language_windows, load_speech, normalize_language
from pipeline.transcribe.vocabulary import build_prompt, extract_terms, fold, restore_spelling

SR = 16000


def article(*paragraphs: str, title: str | None = None) -> Article:
    blocks = tuple(
        ArticleBlock(index=i, kind="paragraph", text=p, html="", anchor=f"p{i}")
        for i, p in enumerate(paragraphs)
    )
    return Article(title=title, front_matter={}, blocks=blocks, html="", language="fr")


def words(*texts: str) -> list[Word]:
    return [Word(start_s=i * 0.4, end_s=i * 0.4 + 0.3, text=t, probability=0.9) for i, t in enumerate(texts)]


def segment(ws: list[Word], **kwargs: object) -> Segment:
    text = "".join(w.text for w in ws).strip()
    return Segment(id=0, start_s=ws[0].start_s, end_s=ws[-1].end_s, text=text, words=ws, **kwargs)  # type: ignore[arg-type]


ART = article(
    "Ce mois-ci je suis allé au Dojo Créa Saint-Maur avec Éric Joanis. Bonjour à tous.",
    "Le ReadAlong-Studio et le CNRC travaillent sur le hansard du Nunavut.",
    "bonjour encore, et merci.",
)


def test_fold_ignores_case_accents_hyphens_and_spaces() -> None:
    assert fold("Dojo Créa Saint-Maur") == fold("dojo crea saint maur") == "dojocreasaintmaur"


def test_terms_are_names_not_sentence_starts() -> None:
    texts = {t.text for t in extract_terms(ART)}
    assert {"Dojo Créa Saint-Maur", "Éric Joanis", "ReadAlong-Studio", "CNRC", "Nunavut"} <= texts
    assert "Bonjour" not in texts and "Ce" not in texts and "Le" not in texts
    assert not any(t.endswith(" Bonjour") for t in texts)


def test_spelling_is_restored_across_split_words_and_punctuation() -> None:
    seg = segment(
        words(" je", " suis", " au", " dojo", " créa", " saint", " maur,", " avec", " eric", " joanis.")
    )
    [fixed] = restore_spelling([seg], extract_terms(ART))
    assert fixed.text == "je suis au Dojo Créa Saint-Maur, avec Éric Joanis."
    assert fixed.text == "".join(w.text for w in fixed.words).strip()
    merged = [w for w in fixed.words if "Saint-Maur" in w.text][0]
    assert merged.start_s == seg.words[3].start_s and merged.end_s == seg.words[6].end_s
    # Two transcript words for the two words of the name: each keeps its own time.
    assert [w.text for w in fixed.words[-2:]] == [" Éric", " Joanis."]


def test_spelling_restoration_joins_and_fixes_near_variants() -> None:
    seg = segment(words(" le", " read", " along", " studio", " et", " le", " nunavout", " du", " cnrs"))
    [fixed] = restore_spelling([seg], extract_terms(ART))
    # A near variant of a long name is fixed; a short one (CNRS vs CNRC) is a different word.
    assert fixed.text == "le ReadAlong-Studio et le Nunavut du cnrs"
    seg = segment(words(" avec", " éric", " joannis", " je", " suis"))
    [fixed] = restore_spelling([seg], extract_terms(ART))
    assert fixed.text == "avec Éric Joanis je suis"


def test_ordinary_words_are_left_alone() -> None:
    seg = segment(words(" bonjour", " à", " tous", " et", " merci"))
    assert restore_spelling([seg], extract_terms(ART)) == [seg]


def test_prompt_fits_the_budget_and_starts_with_the_title() -> None:
    long_article = article(
        " ".join(f"Nom{i} Propre{i} habite ici." for i in range(200)), title="Le grand titre"
    )
    count = lambda text: len(text.split())  # noqa: E731 - a stand-in tokenizer: one token per word
    prompt = build_prompt(long_article, count, max_tokens=40)
    assert prompt is not None and prompt.startswith("Le grand titre.")
    assert count(" " + prompt) <= 41
    assert build_prompt(article("rien ici."), count) is None


def test_loops_are_found() -> None:
    assert has_loop("merci merci merci merci merci", 4)
    assert has_loop("and then we go and then we go and then we go and then we go", 4)
    assert not has_loop("the cat sat on the mat and the dog sat on the rug", 4)


def test_guards_flag_text_over_silence_and_noise() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(3 * SR) / SR
    voiced = (0.3 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    audio = np.concatenate(
        [voiced, np.zeros(3 * SR, np.float32), 0.1 * rng.standard_normal(3 * SR).astype(np.float32)]
    )

    def seg(start: float, text: str) -> Segment:
        ws = [
            Word(start_s=start + i * 0.5, end_s=start + i * 0.5 + 0.4, text=" w", probability=0.5)
            for i in range(5)
        ]
        return Segment(
            id=0,
            start_s=start,
            end_s=start + 2.5,
            text=text,
            words=ws,
            avg_logprob=-0.3,
            no_speech_prob=0.1,
            compression_ratio=1.2,
        )

    speech, silent, noisy = apply_guards(
        [seg(0.2, "hello there"), seg(3.2, "thank you"), seg(6.2, "thanks")], audio
    )
    assert speech.flags == []
    assert "silent_audio" in silent.flags and "noise" in noisy.flags
    assert only_invented([silent, noisy]) and not only_invented([speech, silent])
    assert spectral_flatness(voiced) < 0.35 < spectral_flatness(audio[6 * SR :])
    assert is_silent(np.zeros(SR, np.float32)) and not is_silent(voiced)
    # Quiet real recordings (speech peaking near -60 dBFS) are not silence; steady hiss is.
    assert not is_silent(voiced * 10 ** (-55 / 20))
    assert is_silent((rng.standard_normal(5 * SR) * 10 ** (-70 / 20)).astype(np.float32))


def test_whisper_own_signals_become_flags() -> None:
    audio = (0.3 * np.sin(np.arange(5 * SR) / SR * 2 * np.pi * 200)).astype(np.float32)
    ws = words(" a", " b")
    base = dict(id=0, start_s=0.0, end_s=4.0, words=ws)
    flagged = apply_guards(
        [
            Segment(
                **base, text="la la la la la la", avg_logprob=-0.2, no_speech_prob=0.1, compression_ratio=3.1
            ),
            Segment(**base, text="Merci.", avg_logprob=-1.4, no_speech_prob=0.9, compression_ratio=1.0),
            Segment(**base, text="x" * 200, avg_logprob=-0.2, no_speech_prob=0.1, compression_ratio=1.0),
        ],
        audio,
    )
    assert {"compression", "repetition"} <= set(flagged[0].flags)
    assert "no_speech" in flagged[1].flags
    assert "too_fast" in flagged[2].flags


def test_language_codes() -> None:
    assert normalize_language("FR", source="a") == "fr"
    assert normalize_language("fr-CA", source="a") == "fr"
    assert normalize_language("French", source="a") == "fr"
    with pytest.raises(TranscriptionError, match=r"ep\.wav: unknown language 'klingon'.*\ben, .*\bfr\b"):
        normalize_language("klingon", source="ep.wav")


def test_language_windows_spread_over_the_episode() -> None:
    audio = np.ones(200 * SR, np.float32) * 0.1
    windows = language_windows(audio, 5)
    assert len(windows) == 5 and all(len(w) == 30 * SR for w in windows)
    assert len(language_windows(np.ones(40 * SR, np.float32), 5)) == 1  # two would overlap
    assert len(language_windows(np.ones(61 * SR, np.float32), 5)) == 2
    assert len(language_windows(np.ones(10 * SR, np.float32), 5)) == 1


def test_progress_clock_reports_eta() -> None:
    calls: list[tuple[float, float | None]] = []
    clock = ProgressClock(lambda f, e: calls.append((f, e)))
    clock.report(0.0)
    clock.report(0.5)
    clock.report(1.0)
    assert [f for f, _ in calls] == [0.0, 0.5, 1.0]
    assert calls[0][1] is None and calls[-1][1] == 0.0


def test_unreadable_audio_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(AudioDecodeError, match="broken.wav"):
        load_speech(bad)
    with pytest.raises(AudioDecodeError, match="missing.wav"):
        load_speech(tmp_path / "missing.wav")


def test_chunked_log_mel_equals_whispers(speech: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import whisper

    from pipeline.transcribe.engines import mel

    audio = load_speech(speech / "ej-fra.m4a")
    monkeypatch.setattr(mel, "CHUNK_FRAMES", 700)  # many chunk borders in 34 s
    for samples, padding in ((audio, 480_000), (audio[:12_345], 0)):
        expected = whisper.log_mel_spectrogram(samples, 80, padding=padding)
        got = mel.log_mel_spectrogram_chunked(samples, 80, padding=padding)
        assert got.shape == expected.shape
        assert float((got - expected).abs().max()) < 1e-6
