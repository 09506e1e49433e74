"""`diptych import`'s library half: WordPress exports, recording + article pairs, once each."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipeline.errors import DropError
from pipeline.inbox import find_drops, import_catalogue, read_wxr
from pipeline.status import batch_progress
from pipeline.store import sha256_file

EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:wp="http://wordpress.org/export/1.2/">
<channel><title>Blog</title>
<item><title>Premier épisode</title><pubDate>Mon, 01 Mar 2021 08:00:00 +0000</pubDate>
  <content:encoded><![CDATA[<p>Bonjour.</p>
[audio ogg="https://blog.example.org/wp-content/uploads/2021/03/first.ogg"][/audio]]]></content:encoded>
  <wp:post_name>premier-episode</wp:post_name><wp:post_date>2021-03-01 09:00:00</wp:post_date>
  <wp:status>publish</wp:status><wp:post_type>post</wp:post_type></item>
<item><title>Second</title><content:encoded><![CDATA[<p>Encore.</p>]]></content:encoded>
  <wp:postmeta><wp:meta_key>enclosure</wp:meta_key><wp:meta_value><![CDATA[https://cdn.example.org/Second%20take.ogg
12345
audio/ogg]]></wp:meta_value></wp:postmeta>
  <wp:post_name>second</wp:post_name><wp:post_date>2020-12-24 18:00:00</wp:post_date>
  <wp:status>publish</wp:status><wp:post_type>post</wp:post_type></item>
<item><title>Brouillon</title><wp:status>draft</wp:status><wp:post_type>post</wp:post_type></item>
<item><title>Sans son</title><content:encoded><![CDATA[<a href="/elsewhere/missing.mp3">x</a>]]></content:encoded>
  <wp:post_date>2021-01-01 09:00:00</wp:post_date><wp:status>publish</wp:status><wp:post_type>post</wp:post_type></item>
<item><title>logo</title><wp:post_type>attachment</wp:post_type></item>
</channel></rss>
"""


def _folder(tmp_path: Path, speech: Path) -> Path:
    folder = tmp_path / "catalogue"
    (folder / "uploads").mkdir(parents=True)
    (folder / "uploads" / "first.ogg").write_bytes((speech / "fleurs-fr-000.ogg").read_bytes())
    (folder / "uploads" / "Second take.ogg").write_bytes((speech / "fleurs-fr-001.ogg").read_bytes())
    (folder / "export.xml").write_text(EXPORT, encoding="utf-8")
    (folder / "old-show.ogg").write_bytes((speech / "fleurs-en-000.ogg").read_bytes())
    (folder / "old-show.md").write_text("# The old show\n\nHello.\n", encoding="utf-8")
    (folder / "lonely.ogg").write_bytes((speech / "fleurs-en-001.ogg").read_bytes())
    return folder


def test_wxr_posts_link_to_the_recordings_in_the_folder(tmp_path, speech):
    folder = _folder(tmp_path, speech)
    files = {p.name.lower(): p for p in folder.rglob("*.ogg")}
    report = read_wxr(folder / "export.xml", files)
    assert [(p.slug, p.date, p.recording.name) for p in report.posts] == [
        ("premier-episode", dt.date(2021, 3, 1), "first.ogg"), ("second", dt.date(2020, 12, 24), "Second take.ogg")]
    assert "<p>Bonjour.</p>" in report.posts[0].body_html
    assert any("Brouillon" in line and "not published" in line for line in report.skipped)
    assert any("Sans son" in line and "no recording" in line for line in report.skipped)


def test_a_broken_or_hostile_export_is_one_line(tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<rss><channel><item>", encoding="utf-8")
    with pytest.raises(DropError, match="broken.xml: not a readable WordPress export"):
        read_wxr(broken, {})
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                    "<rss><channel><item><title>&b;</title></item></channel></rss>", encoding="utf-8")
    with pytest.raises(DropError, match="bomb.xml"):
        read_wxr(bomb, {})


def test_import_queues_each_episode_once_with_its_date_and_leaves_the_folder_alone(project, tmp_path, speech):
    folder = _folder(tmp_path, speech)
    before = {p: sha256_file(p) for p in folder.rglob("*") if p.is_file()}
    report = import_catalogue(project, folder, duration_of=lambda path: 9.0)
    assert sorted(report.queued) == ["old-show", "premier-episode", "second"]
    assert any("lonely.ogg" in line for line in report.messages)
    drops, problems = find_drops(project.inbox)
    assert not problems
    assert sorted(d.name for d in drops) == ["old-show", "premier-episode", "second"]
    article = (project.inbox / "second" / "second.md").read_text(encoding="utf-8")
    assert "date: '2020-12-24'" in article and "title: Second" in article and "<p>Encore.</p>" in article
    assert {p: sha256_file(p) for p in folder.rglob("*") if p.is_file()} == before
    assert not list((project.inbox / ".import").iterdir())

    again = import_catalogue(project, folder, duration_of=lambda path: 9.0)
    assert again.queued == [] and sorted(again.known) == ["old-show", "premier-episode", "second"]
    assert again.batch is None

    progress = batch_progress(project)
    assert progress is not None and progress.total == 3
    assert progress.counts == {"done": 0, "running": 0, "waiting": 3, "failed": 0}
    assert progress.eta_s is None


def test_import_of_a_missing_folder_is_one_line(project, tmp_path):
    with pytest.raises(DropError, match="no such folder"):
        import_catalogue(project, tmp_path / "nope", duration_of=lambda path: None)
