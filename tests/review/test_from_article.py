"""Words the transcript took from the article: shown as such on the review page, and put back to what
was heard by an ordinary edit (what review.js sends for the ↶ button)."""

from __future__ import annotations

from pipeline.models import Segment, Transcript, Word
from pipeline.pairing import Difference, WordRef
from pipeline.review.edits import apply_text_edit
from pipeline.review.view import segment_html, segment_json
from pipeline.transcribe.correct import apply_differences


def heard() -> Transcript:
    words = [
        Word(start_s=0.0, end_s=0.4, text=" L'audio", probability=0.9),
        Word(start_s=0.4, end_s=0.8, text=" est", probability=0.9),
        Word(start_s=0.8, end_s=1.6, text=" rétexte", probability=0.3),
        Word(start_s=1.6, end_s=2.2, text=" secouplète.", probability=0.2),
    ]
    segment = Segment(id=0, start_s=0.0, end_s=2.2, text="".join(w.text for w in words), words=words)
    return Transcript(
        language="fr", engine="test", model="base", audio_sha256="0" * 64, duration_s=3.0, segments=[segment]
    )


def corrected() -> Transcript:
    taken = Difference(
        heard=(WordRef(0, 1), WordRef(0, 2), WordRef(0, 3)),
        after=None,
        article=("et", "le", "texte", "se", "complètent."),
    )
    return apply_differences(heard(), [taken])


def test_a_replacement_keeps_what_was_heard_and_the_time_it_took() -> None:
    t = corrected()
    words = t.segments[0].words
    assert t.segments[0].text.split() == ["L'audio", "et", "le", "texte", "se", "complètent."]
    assert [w.from_article for w in words] == [False, True, True, True, True, True]
    assert words[1].heard == " est rétexte secouplète." and all(w.heard is None for w in words[2:])
    assert words[1].start_s == 0.4 and words[-1].end_s == 2.2
    assert all(a.end_s <= b.start_s + 1e-6 for a, b in zip(words, words[1:], strict=False))


def test_the_review_page_marks_article_words_and_offers_to_put_back_what_was_heard() -> None:
    seg = corrected().segments[0]
    html = segment_html(seg, 0.5)
    assert html.count('class="fa"') == 5
    assert 'data-heard="est rétexte secouplète."' in html and html.count('class="revert"') == 1
    words = segment_json(seg, 0.5)["words"]
    assert words[0] == [0.0, "L'audio", 0.9]  # a word as heard: three items, as before
    assert words[1][3] == " est rétexte secouplète." and words[2][3] == ""


def test_putting_back_what_was_heard_is_an_edit_that_drops_the_article_words() -> None:
    t = corrected()
    reverted = apply_text_edit(t, 0, "L'audio est rétexte secouplète.")
    words = reverted.segments[0].words
    assert [w.text.strip() for w in words] == ["L'audio", "est", "rétexte", "secouplète."]
    assert not any(w.from_article for w in words)
    assert reverted.edits[-1].kind == "edit"
