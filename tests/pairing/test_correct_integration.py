"""The article corrects the transcript, decided by the real Whisper base model on a real recording.

ej-fra (a researcher reading his own text, French) is transcribed by openai-whisper, paired with its
text, and corrected (pipeline.transcribe.correct). To know the answer in advance, two variants: a
word Whisper heard right is swapped for a wrong one (the model must take the article's back), and
the article is given a word the speaker never said (the model must keep what he said).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.article.reader import Article, read_article
from pipeline.config import TranscribeSettings
from pipeline.models import Pairing, Transcript
from pipeline.transcribe.correct import correct_from_article
from pipeline.transcribe.model_cache import default_models_dir, install_model
from pipeline.transcribe.stage import load_speech, transcribe_audio
from tests.factories import pair_draft

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reading(speech: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Transcript, Path, object]:
    models = default_models_dir()
    install_model("base", models)
    wav = speech / "ej-fra.m4a"
    settings = TranscribeSettings(engine="openai-whisper", language="fr", use_article_prompt=False)
    transcript = transcribe_audio(wav, settings=settings, models_dir=models, audio_sha256="0" * 64, language="fr")
    return transcript, models, load_speech(wav)


def article_of(
    speech: Path, tmp_path: Path, *, change: tuple[str, str] | None = None, paragraph: bool = False
) -> Article:
    """The recording's text as an article: a block per sentence, or one paragraph."""
    text = (speech / "ej-fra.txt").read_text(encoding="utf-8")
    if change:
        text = text.replace(*change)
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    path = tmp_path / "article.md"
    path.write_text((" " if paragraph else "\n\n").join(sentences) + "\n", encoding="utf-8")
    return read_article(path)


def pair(article: Article, transcript: Transcript) -> Pairing:
    return pair_draft(article, transcript)


def swap_word(transcript: Transcript, old: str, new: str) -> Transcript:
    """The transcript with Whisper's word `old` written as `new` (as if it had misheard it)."""
    segments = []
    for seg in transcript.segments:
        words = [
            w.model_copy(update={"text": w.text.replace(old, new)}) if w.text.strip(" ,.") == old else w
            for w in seg.words
        ]
        segments.append(seg.model_copy(update={"words": words, "text": "".join(w.text for w in words)}))
    return transcript.model_copy(update={"segments": segments})


def words_of(transcript: Transcript) -> list:  # type: ignore[type-arg]
    return [w for s in transcript.segments for w in s.words]


def test_a_misheard_word_takes_the_articles_word_where_the_audio_says_it(reading, speech: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    transcript, models, audio = reading
    assert any(w.text.strip(" ,.") == "technologies" for w in words_of(transcript)), transcript.text
    misheard = swap_word(transcript, "technologies", "théologies")
    article = article_of(speech, tmp_path)
    result = correct_from_article(misheard, pair(article, misheard), audio, model_name="base", models_dir=models)
    taken = [w for w in words_of(result.transcript) if w.from_article]
    assert any(w.text.strip(" ,.") == "technologies" and w.heard and "théologies" in w.heard for w in taken)
    assert "théologies" not in result.transcript.text


def test_a_word_the_speaker_did_not_say_is_not_taken_from_the_article(reading, speech: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    transcript, models, audio = reading
    article = article_of(speech, tmp_path, change=("Je suis programmeur", "Je suis traducteur"))
    result = correct_from_article(transcript, pair(article, transcript), audio, model_name="base", models_dir=models)
    # Whisper base hears "programmable" there: "traducteur" was scored against it, and refused.
    assert result.tried >= 1
    assert "traducteur" not in result.transcript.text
    # What the model did take is the article's and marked, each with what was heard kept.
    for word in words_of(result.transcript):
        if word.from_article and word.heard is not None:
            assert word.heard.strip()


def _episode(project, speech: Path, transcript: Transcript, audio, *, reviewed: bool):  # type: ignore[no-untyped-def]
    import wave

    import numpy as np

    from tests.factories import make_episode

    text = (speech / "ej-fra.txt").read_text(encoding="utf-8")
    layout = make_episode(
        project,
        "ej",
        title="ej",
        mp3=speech / "ej-fra.m4a",
        transcript=transcript,
        pairing=None,
        article="\n\n".join(s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()) + "\n",
        reviewed=reviewed,
    )
    with wave.open(str(layout.speech_wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return layout


def test_the_pair_stage_corrects_the_draft_and_never_a_reviewed_transcript(reading, speech: Path, project) -> None:  # type: ignore[no-untyped-def]
    from pipeline.config import Settings
    from pipeline.stages import run_pair
    from pipeline.store import read_model, sha256_file

    transcript, models, audio = reading
    misheard = swap_word(transcript, "technologies", "théologies")
    settings = Settings(transcribe={"models_dir": str(models)})
    layout = _episode(project, speech, misheard, audio, reviewed=False)
    run_pair(project, settings, "ej")
    draft = read_model(layout.draft_json, Transcript)
    assert any(w.from_article and w.text.strip() == "technologies" for w in words_of(draft))
    pairing = read_model(layout.pairing_json, Pairing)
    assert pairing.transcript_sha256 == sha256_file(layout.draft_json)  # paired again on the corrected draft
    assert run_pair(project, settings, "ej").ran is False  # and up to date after it

    other = project.root / "other"
    other_project = type(project)(other)
    layout = _episode(other_project, speech, misheard, audio, reviewed=True)
    before = layout.reviewed_json.read_bytes()
    run_pair(other_project, settings, "ej")
    assert layout.reviewed_json.read_bytes() == before


def test_the_scores_are_whispers_own_teacher_forced_log_likelihood(reading) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    import torch
    import whisper

    from pipeline.transcribe.correct import _tokenizer, load_scorer, score_texts, scoring_text
    from pipeline.transcribe.model_cache import OPENAI_ENGINE, model_path

    transcript, models, audio = reading
    scorer = load_scorer(str(model_path("base", models, engine=OPENAI_ENGINE)), "base")
    clip = audio[: 16_000 * 8]
    texts = [transcript.segments[0].text, transcript.segments[0].text.replace("Bonjour", "Bonsoir")]
    tokenizer = _tokenizer(scorer, "fr")
    prefix = list(tokenizer.sot_sequence_including_notimestamps)
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(clip.astype(np.float32)))
    expected = []
    with torch.no_grad():  # whisper's own decoder, one text at a time
        features = scorer.model.embed_audio(mel[None])
        for text in texts:
            sequence = prefix + tokenizer.encode(scoring_text(text)) + [tokenizer.eot]
            logprobs = torch.log_softmax(scorer.model.logits(torch.tensor([sequence]), features)[0], dim=-1)
            targets = torch.tensor(sequence[len(prefix) :])
            expected.append(float(logprobs[len(prefix) - 1 : -1].gather(1, targets[:, None]).sum()))
    assert score_texts(scorer, clip, texts, language="fr") == pytest.approx(expected, abs=1e-3)


def garble_sentence(transcript: Transcript, start_s: float, end_s: float, text: str) -> Transcript:
    """The transcript with the words said between start_s and end_s written as `text`'s words."""
    replacement = iter(text.split())
    segments = []
    for seg in transcript.segments:
        words = [
            w.model_copy(update={"text": f" {next(replacement, 'euh')}"}) if start_s <= w.start_s < end_s else w
            for w in seg.words
        ]
        segments.append(seg.model_copy(update={"words": words, "text": "".join(w.text for w in words)}))
    return transcript.model_copy(update={"segments": segments})


def test_a_garbled_read_sentence_is_taken_back_and_one_never_said_is_not(reading, speech: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    transcript, models, audio = reading
    words = words_of(transcript)
    first = next(i for i, w in enumerate(words) if w.text.strip() == "Ce")  # "Ce corpus permettra ..."
    last = next(i for i in range(first, len(words)) if words[i].text.rstrip().endswith("."))
    start_s, end_s = words[first].start_s, words[last].end_s
    noise = "sept cornes pour mettre un train la thé neuf rôle ou tisse tique un si queue deux trots appli cassions"
    garbled = garble_sentence(transcript, start_s, end_s, noise)
    article = article_of(speech, tmp_path, paragraph=True)  # the sentence between two read ones
    result = correct_from_article(garbled, pair(article, garbled), audio, model_name="base", models_dir=models)
    assert "ainsi que d'autres applications" in result.transcript.text and "cornes" not in result.transcript.text

    never_said = (
        "Ce corpus permettra d'entraîner la TA, neuronale ou statistique, ainsi que d'autres applications"
        " de traitement du langage naturel.",
        "Ce soir nous irons tous au cinéma voir un vieux film muet avec les enfants du quartier et leurs amis.",
    )
    article = article_of(speech, tmp_path, change=never_said, paragraph=True)
    result = correct_from_article(transcript, pair(article, transcript), audio, model_name="base", models_dir=models)
    assert "cinéma" not in result.transcript.text and "corpus" in result.transcript.text


def test_the_correction_scores_on_the_transcriptions_own_encoder_output(reading, speech: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The fixture's transcription (batched, in this process) kept each window's encoder output; the
    correction's windows use it, and score as on the audio encoded again."""
    from pipeline.pairing import read_sentences
    from pipeline.transcribe.correct import load_scorer, plan_windows, score_tokens
    from pipeline.transcribe.engines.encoded import encoded_windows
    from pipeline.transcribe.model_cache import OPENAI_ENGINE, model_path

    transcript, models, audio = reading
    scorer = load_scorer(str(model_path("base", models, engine=OPENAI_ENGINE)), "base")
    kept = encoded_windows(scorer.model, audio)
    assert len(kept) >= 2 and kept[0].start_s < 1.0 < kept[-1].start_s, [(w.start_s, w.end_s) for w in kept]
    assert encoded_windows(scorer.model, audio[:-1]) == []  # another audio finds nothing

    misheard = swap_word(transcript, "technologies", "théologies")
    sentences = read_sentences(pair(article_of(speech, tmp_path), misheard), misheard)
    windows = plan_windows(sentences, misheard, kept)
    reused = [w for w in windows if w.features is not None]
    assert reused and sum(len(w.sentences) for w in reused) >= 0.7 * len(sentences)
    for window in reused[:3]:
        text = "".join(misheard.segments[r.segment].words[r.word].text for r in window.refs)
        clip = audio[int(window.start_s * 16_000) : int(window.end_s * 16_000)]
        ((_, on_kept),) = score_tokens(scorer, clip, [text], language="fr", features=window.features)
        ((_, encoded),) = score_tokens(scorer, clip, [text], language="fr")
        assert len(on_kept) == len(encoded) > 5
        assert abs(sum(on_kept) - sum(encoded)) / len(encoded) < 0.05, (sum(on_kept), sum(encoded))


def test_a_second_round_scores_only_what_the_first_did_not(reading, speech: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The pair stage corrects, pairs again and corrects again: a candidate the model refused in the
    first round is not scored again in the second."""
    transcript, models, audio = reading
    never_said = (
        "Ce corpus permettra d'entraîner la TA, neuronale ou statistique, ainsi que d'autres applications"
        " de traitement du langage naturel.",
        "Ce soir nous irons tous au cinéma voir un vieux film muet avec les enfants du quartier et leurs amis.",
    )
    article = article_of(speech, tmp_path, change=never_said, paragraph=True)
    decided: set = set()  # type: ignore[type-arg]
    first = correct_from_article(
        transcript, pair(article, transcript), audio, model_name="base", models_dir=models, decided=decided
    )
    assert first.scored >= 1 and len(decided) == first.scored
    again = correct_from_article(
        first.transcript, pair(article, first.transcript), audio, model_name="base", models_dir=models, decided=decided
    )
    assert again.scored == 0 and "cinéma" not in again.transcript.text
    fresh = correct_from_article(first.transcript, pair(article, first.transcript), audio, model_name="base",
                                 models_dir=models)
    assert fresh.scored >= 1  # without what the first round decided, the same candidates are scored
