"""The review's editing core: timing survives edits, undo, find/replace, export/import, decisions."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from pipeline.episodes import create_record, load_record, set_state
from pipeline.errors import ReviewError
from pipeline.models import Approver, EpisodeState, Transcript
from pipeline.review import state as review
from pipeline.store import sha256_file, write_model
from tests.factories import (
    SPEECH,
    assert_monotonic,
    assert_survivors_keep_draft_times,
    random_edit,
    whisper_like_transcript,
)

UDHR = SPEECH / "udhr-preamble-en.txt"


@pytest.fixture(scope="module")
def draft() -> Transcript:
    return whisper_like_transcript(UDHR.read_text(encoding="utf-8"))


def test_edit_keeps_unchanged_words_times_and_times_new_ones_in_the_gap(draft: Transcript) -> None:
    seg = draft.segments[2]
    tokens = review.display_text(seg).split()
    new_tokens = [*tokens[:3], "freshly", "typed", *tokens[4:]]
    edited = review.apply_text_edit(draft, seg.id, " ".join(new_tokens))
    new_seg = edited.segments[2]
    assert new_seg.text == " ".join(new_tokens)
    assert [(w.start_s, w.end_s) for w in new_seg.words[:3]] == [(w.start_s, w.end_s) for w in seg.words[:3]]
    assert [(w.start_s, w.end_s) for w in new_seg.words[5:]] == [(w.start_s, w.end_s) for w in seg.words[4:]]
    # the two typed words share the replaced word's span, in order
    replaced = seg.words[3]
    typed = new_seg.words[3:5]
    assert replaced.start_s <= typed[0].start_s < typed[0].end_s <= typed[1].start_s < typed[1].end_s
    assert typed[1].end_s <= replaced.end_s
    assert all(w.probability == 1.0 for w in typed)
    assert (new_seg.start_s, new_seg.end_s) == (seg.start_s, seg.end_s)
    assert new_seg.checked
    assert edited.edits[-1].kind == "edit" and edited.edits[-1].after == " ".join(new_tokens)
    assert draft.segments[2] == seg  # pure: the input is untouched
    assert_monotonic(edited)


def test_alignment_keeps_as_many_words_as_possible() -> None:
    t = whisper_like_transcript("cooperation with the United Nations, the promotion")
    edited = review.apply_text_edit(t, 0, "cooperation with United qz the promotion")
    old = {w.text.strip(): w for w in t.segments[0].words if w.text.strip() in ("United", "promotion")}
    new = {w.text.strip(): w for w in edited.segments[0].words}
    assert new["United"] == old["United"] and new["promotion"] == old["promotion"]


def test_typed_words_before_a_word_that_starts_before_its_segment() -> None:
    t = whisper_like_transcript("one two three four five six", words_per_segment=3)
    second = t.segments[1]
    early = second.words[0].model_copy(update={"start_s": second.start_s - 0.1})  # as Whisper does
    t = t.model_copy(
        update={"segments": [t.segments[0], second.model_copy(update={"words": [early, *second.words[1:]]})]}
    )
    edited = review.apply_text_edit(t, 1, "well then four five six")
    assert_monotonic(edited, words_inside_segments=False)
    words = edited.segments[1].words
    assert words[2] == early and words[1].end_s <= early.start_s


def test_case_and_punctuation_changes_keep_times(draft: Transcript) -> None:
    seg = draft.segments[0]
    text = review.display_text(seg).upper().replace(",", "")
    edited = review.apply_text_edit(draft, seg.id, text)
    assert [(w.start_s, w.end_s) for w in edited.segments[0].words] == [
        (w.start_s, w.end_s) for w in seg.words
    ]
    assert edited.segments[0].text == text


def test_emptying_a_segment_removes_it(draft: Transcript) -> None:
    edited = review.apply_text_edit(draft, 4, "   ")
    assert 4 not in [s.id for s in edited.segments]
    assert len(edited.segments) == len(draft.segments) - 1


def test_merge_and_split(draft: Transcript) -> None:
    a, b = draft.segments[1], draft.segments[2]
    merged = review.merge_segments(draft, a.id)
    m = merged.segments[1]
    assert (m.start_s, m.end_s) == (a.start_s, b.end_s)
    assert m.words == [*a.words, *b.words]
    assert m.text == f"{review.display_text(a)} {review.display_text(b)}"
    assert_monotonic(merged)
    text = review.display_text(m)
    offset = text.index(review.display_text(b))
    split = review.split_segment(merged, m.id, offset)
    first, second = split.segments[1], split.segments[2]
    assert first.words == a.words and second.words == b.words
    assert first.end_s == a.words[-1].end_s and second.start_s == b.words[0].start_s
    assert second.id == max(s.id for s in draft.segments) + 1
    assert_monotonic(split)
    # an offset inside a word splits before that word
    tokens = review.display_text(a).split()
    long_word = next(k for k, tok in enumerate(tokens) if k > 0 and len(tok) > 2)
    inside = review.split_segment(draft, a.id, len(" ".join(tokens[:long_word])) + 2)
    assert inside.segments[1].words == a.words[:long_word]
    with pytest.raises(ReviewError):
        review.split_segment(draft, a.id, 0)
    with pytest.raises(ReviewError):
        review.merge_segments(draft, draft.segments[-1].id)


def test_find_is_case_insensitive_and_whole_word(draft: Transcript) -> None:
    matches = review.find_matches(draft, "RIGHTS")
    texts = [m.text[m.start : m.end] for m in matches]
    assert len(matches) >= 5 and all(t.lower() == "rights" for t in texts)
    assert review.find_matches(draft, "right") == []  # only "rights" in the text: whole words
    assert len(review.find_matches(draft, "right", whole_word=False)) >= len(matches)
    replaced = review.replace_all(draft, "Rights", "entitlements")
    assert review.find_matches(replaced, "rights") == []
    assert len(review.find_matches(replaced, "entitlements")) == len(matches)
    assert replaced.edits[-1].kind == "replace"
    assert_monotonic(replaced)
    assert_survivors_keep_draft_times(replaced, draft)
    assert review.replace_all(draft, "no such words here", "x") is draft
    with pytest.raises(ReviewError):
        review.find_matches(draft, "  ")


def test_speakers(draft: Transcript) -> None:
    t = review.set_speaker(draft, "Ada Lovelace")
    assert t.speaker == "Ada Lovelace"
    t = review.set_speaker(t, "Grace", segment_id=3)
    assert t.segments[3].speaker == "Grace" and t.segments[2].speaker is None
    t = review.set_speaker(t, "", segment_id=3)
    assert t.segments[3].speaker is None


def test_undo_rebuilds_the_state_before_the_last_edit(draft: Transcript) -> None:
    t1 = review.apply_text_edit(draft, 0, "Preamble and nothing else")
    t2 = review.merge_segments(t1, 1)
    t3 = review.undo_last(t2, draft)
    assert t3.segments == t1.segments
    t4 = review.undo_last(t3, draft)
    assert t4.segments == draft.segments
    assert [e.kind for e in t4.edits] == ["edit", "merge", "undo", "undo"]
    with pytest.raises(ReviewError):
        review.undo_last(t4, draft)


def test_export_import_round_trip_and_edits(draft: Transcript) -> None:
    text = review.export_text(draft)
    assert text.splitlines()[0].startswith("[00:00] Preamble")
    assert review.import_text(text, draft) is draft
    lines = text.splitlines()
    lines[2] = lines[2].replace("Whereas", "Considering", 1)
    lines[4] = lines[4] + " " + lines[5].split("] ", 1)[1]  # two lines joined in the editor
    del lines[5]
    imported = review.import_text("\n".join(lines) + "\n", draft)
    assert len(imported.segments) == len(draft.segments) - 1
    assert review.display_text(imported.segments[2]).startswith(
        review.display_text(draft.segments[2]).split()[0]
    )
    assert "Considering" in imported.text
    assert imported.edits[-1].kind == "import"
    assert_monotonic(imported)
    assert_survivors_keep_draft_times(imported, draft)
    with pytest.raises(ReviewError):
        review.import_text("no marks at all", draft)


@pytest.mark.parametrize("seed", range(6))
def test_random_edits_keep_times_monotonic_and_undo_exact(draft: Transcript, seed: int) -> None:
    rng = random.Random(seed)
    counter = [0]
    t = draft
    states = [draft.segments]  # segments after each edit that is still in effect
    for _ in range(60):
        before_kinds = len(t.edits)
        new = random_edit(rng, t, draft, counter)
        if len(new.edits) > before_kinds:
            if new.edits[-1].kind == "undo":
                states.pop()
                assert new.segments == states[-1], "undo did not give back the state before the edit"
            else:
                states.append(new.segments)
        t = new
        assert_monotonic(t)
        assert_survivors_keep_draft_times(t, draft)
    assert len(t.edits) > 20


def test_needs_check_counts_flags_and_unsure_words(draft: Transcript) -> None:
    todo = review.todo_count(draft, 0.5)
    assert todo == sum(1 for s in draft.segments if s.flags or any(w.probability < 0.5 for w in s.words))
    flagged = next(s for s in draft.segments if review.needs_check(s, 0.5))
    checked = review.mark_checked(draft, flagged.id)
    assert review.todo_count(checked, 0.5) == todo - 1
    edited = review.apply_text_edit(draft, flagged.id, review.display_text(flagged) + " indeed")
    assert review.todo_count(edited, 0.5) == todo - 1


# ---------------------------------------------------------------- workspace: load, save, decide


@pytest.fixture
def episode(project, draft: Transcript):
    layout = project.episode("udhr-preamble")
    create_record(layout, title="Preamble")
    write_model(layout.draft_json, draft)
    set_state(layout, EpisodeState.awaiting_review, stage="pair")
    return layout


def test_load_save_versions_and_stale_saves(episode) -> None:
    draft_sha = sha256_file(episode.draft_json)
    t = review.load_for_review(episode)
    assert t.version == 0 and t.based_on_sha256 == draft_sha and not episode.reviewed_json.exists()
    t1 = review.save_review(episode, review.apply_text_edit(t, 0, "Preamble one"), base_version=0)
    assert t1.version == 1
    assert review.load_for_review(episode).segments[0].text == "Preamble one"
    # another tab still holds version 0
    with pytest.raises(ReviewError, match="another tab/window: reload"):
        review.save_review(episode, review.apply_text_edit(t, 0, "Preamble two"), base_version=0)
    assert review.load_for_review(episode).segments[0].text == "Preamble one"
    t2 = review.save_review(episode, review.apply_text_edit(t1, 0, "Preamble three"), base_version=1)
    assert t2.version == 2 and review.load_for_review(episode).version == 2
    assert sha256_file(episode.draft_json) == draft_sha  # the draft never changes
    assert not review.review_is_stale(episode, t2)
    assert [p.name for p in episode.transcript_dir.iterdir() if p.name.endswith(".tmp")] == []


def test_reviewed_json_is_written_like_the_store_writes_json(episode, draft: Transcript) -> None:
    from pipeline.store import dumps_json

    saved = review.save_review(episode, review.set_speaker(draft, "Ada « É »"), base_version=0)
    assert episode.reviewed_json.read_text(encoding="utf-8") == dumps_json(saved.model_dump(mode="json"))
    # the second save reuses the data of unchanged segments: still the same bytes
    again = review.save_review(episode, review.apply_text_edit(saved, 3, "Changed « here »"), base_version=1)
    assert episode.reviewed_json.read_text(encoding="utf-8") == dumps_json(again.model_dump(mode="json"))
    assert review.load_for_review(episode) == again


def test_disk_version_falls_back_to_parsing(episode, draft: Transcript) -> None:
    episode.reviewed_json.write_text(
        draft.model_copy(update={"version": 7}).model_dump_json(), encoding="utf-8"
    )
    with pytest.raises(ReviewError, match="version 7"):
        review.save_review(episode, draft, base_version=3)


def test_missing_draft_is_a_clear_error(project) -> None:
    layout = project.episode("nothing-yet")
    create_record(layout, title="x")
    with pytest.raises(ReviewError, match="diptych run"):
        review.load_for_review(layout)


def test_decisions(episode) -> None:
    record = review.request_changes(episode, "  Cut the intro.  ")
    assert record.state == EpisodeState.changes_requested and record.review_note == "Cut the intro."
    with pytest.raises(ReviewError):
        review.request_changes(episode, "   ")
    with pytest.raises(review.UncheckedItemsError, match="^udhr-preamble: 1 item left to check .*approve anyway$"):
        review.approve_episode(episode, by=Approver.terminal, left_to_check=1)
    assert load_record(episode).state == EpisodeState.changes_requested
    record = review.approve_episode(episode, by=Approver.review_page, left_to_check=3, anyway=True)
    assert record.state == EpisodeState.approved and load_record(episode).review_note is None
    assert record.approval is not None and record.approval.by == "review_page" and record.approval.left_to_check == 3
    set_state(episode, EpisodeState.awaiting_review, stage="x")
    record = review.approve_episode(episode, by=Approver.terminal)
    with pytest.raises(ReviewError, match="approved"):
        review.approve_episode(episode, by=Approver.terminal)
    set_state(episode, EpisodeState.failed, stage="x")
    assert load_record(episode).approval is None  # left approved: a new approval is needed
    with pytest.raises(ReviewError):
        review.request_changes(episode, "no")
    assert load_record(episode).history[-1].at <= datetime.now(UTC)
