"""Pairing real recordings (benchmark cases a-e) transcribed by the real Whisper base model.

The cases and their truth live in benchmarks/pairing_cases/ (see cases.py); the thresholds here are
those the benchmark measured, less a margin for another machine's transcript.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from pipeline.article.reader import read_article
from pipeline.models import Pairing, Transcript
from pipeline.transcribe.model_cache import default_models_dir, install_model
from tests.factories import PROJECT_ROOT, pair_draft

pytestmark = pytest.mark.integration

CASES_DIR = PROJECT_ROOT / "benchmarks" / "pairing_cases"
# The cases run through faster-whisper: the same Whisper base weights, a third of the time.
ENGINE = "faster-whisper"


def _load(name: str):
    sys.path.insert(0, str(CASES_DIR))
    spec = importlib.util.spec_from_file_location(name, CASES_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


cases_mod = _load("cases")
scoring = _load("scoring")


@pytest.fixture(scope="session")
def built(speech: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, Transcript]]:
    """Every case built once per session and transcribed once: {letter: (case, transcript)}."""
    models = default_models_dir()
    install_model("base", models)
    work = tmp_path_factory.mktemp("pairing-cases")
    cache = work / "transcripts"
    out = {}
    for case in cases_mod.build_cases(speech, work):
        out[case.name[0]] = (
            case,
            scoring.transcribe_case(case, models_dir=models, cache=cache, engine=ENGINE),
        )
    return out


def paired(case, transcript: Transcript, **settings: object) -> Pairing:
    return pair_draft(read_article(case.article), transcript, **settings)


def test_a_read_aloud_every_paragraph_within_two_seconds(built) -> None:
    case, transcript = built["a"]
    result = scoring.score_case(case, paired(case, transcript))
    assert result.false_text_only == 0
    assert result.within >= 0.95 and result.worst_error_s <= 2.0


def test_b_reordered_paragraphs_found_where_they_are_said(built) -> None:
    case, transcript = built["b"]
    pairing = paired(case, transcript)
    result = scoring.score_case(case, pairing)
    assert result.within >= 0.95
    # The episode starts with the preamble and then the seventh paragraph, not the first.
    by_time = sorted((b for b in pairing.blocks if b.status == "paired"), key=lambda b: b.start_s)
    assert [b.index for b in by_time[:3]] == [0, 7, 5]


def test_c_spliced_in_recordings_are_audio_only(built) -> None:
    case, transcript = built["c"]
    pairing = paired(case, transcript)
    result = scoring.score_case(case, pairing)
    # The target (issue 11) is IoU >= 0.7; measured 0.71: Whisper times its last words before the third
    # splice 3.5 s early, so that span starts early (the unit-level spans gave the same on this transcript).
    assert result.iou is not None and result.iou >= 0.7
    assert result.within >= 0.95 and result.false_text_only == 0
    assert len(pairing.audio_only) == len(case.audio_only)
    assert "slow communication channels" in pairing.audio_only[0].text


def test_d_paragraph_never_said_is_text_only(built) -> None:
    case, transcript = built["d"]
    pairing = paired(case, transcript)
    result = scoring.score_case(case, pairing)
    assert result.extra_flagged is True
    assert result.false_text_only == 0 and result.within >= 0.95
    assert pairing.coverage.article_told < 1.0 and pairing.coverage.episode_covered >= 0.95


def test_e_french_sentences_within_two_seconds(built) -> None:
    case, transcript = built["e"]
    result = scoring.score_case(case, paired(case, transcript))
    assert result.within >= 0.95 and result.false_text_only == 0


@pytest.mark.parametrize("method", ["lexical", "semantic"])
def test_each_score_alone_still_pairs_the_read_aloud_case(built, method: str) -> None:
    case, transcript = built["a"]
    result = scoring.score_case(case, paired(case, transcript, method=method))
    assert result.within >= 0.9


def test_article_in_another_language_than_the_episode(built, examples: Path) -> None:
    """The French creator article against the English UDHR reading: low confidence, no crash."""
    _, transcript = built["a"]
    pairing = pair_draft(read_article(examples / "creator-article-fr.txt"), transcript)
    assert pairing.low_confidence
    assert pairing.coverage.article_told < 0.3


def test_one_minute_episode_with_a_long_article(built, examples: Path) -> None:
    """ej-fra (34 s) against the long, unrelated creator article: mostly text only, flagged."""
    _, transcript = built["e"]
    article = read_article(examples / "creator-article-fr.txt")
    pairing = pair_draft(article, transcript)
    told = [b for b in pairing.blocks if b.status == "paired"]
    assert len(pairing.blocks) == len(article.blocks)
    assert len(told) <= 3 and pairing.low_confidence


def test_f_retold_article_is_paired_by_meaning_not_by_words(built) -> None:
    """An episode that retells the article in other words (synthetic voice): words alone find
    almost nothing; meaning finds most sections, in the episode's order, and not the untold one."""
    case, transcript = built["f"]
    hybrid = scoring.score_case(case, paired(case, transcript))
    lexical = scoring.score_case(case, paired(case, transcript, method="lexical"))
    assert hybrid.within >= 0.6 and hybrid.extra_flagged is True
    assert lexical.within <= 0.2 < hybrid.within


word_scoring = _load("word_scoring")


@pytest.mark.parametrize("letter", ["a", "b", "c", "d", "e"])
def test_read_cases_start_each_block_within_a_second(built, letter: str) -> None:
    """Word-level starts: the benchmark measured 100 % within ±1.0 s (91-100 % within ±0.5 s)."""
    case, transcript = built[letter]
    result = word_scoring.score_words(case, paired(case, transcript))
    assert result.within_10 >= 0.9, result
