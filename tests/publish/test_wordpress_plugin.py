"""The optional plugin wordpress/diptych-player.php on the real test blog: the "▶" links seek the
post's player, and the JSON transcript and chapters go to the media library."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.config import load_settings
from pipeline.layout import ProjectLayout
from pipeline.publish.wordpress import publish_to_wordpress
from tests.publish.wordpress_blog import (
    PROJECT_ROOT,
    SLUG,
    Blog,
    copy_episode,
)

pytestmark = pytest.mark.integration

PLUGIN = PROJECT_ROOT / "wordpress" / "diptych-player.php"


@pytest.fixture
def with_plugin(wordpress_blog: Blog) -> Iterator[Blog]:
    installed = wordpress_blog.mu_plugins / PLUGIN.name
    shutil.copyfile(PLUGIN, installed)
    try:
        yield wordpress_blog
    finally:
        installed.unlink()


def test_the_plugin_makes_the_links_seek_the_player(
    processed_episode: ProjectLayout, with_plugin: Blog, tmp_path: Path, browser
) -> None:
    project, settings = copy_episode(processed_episode, tmp_path / "project", with_plugin, extra='status = "publish"\n')
    result = publish_to_wordpress(project, settings, SLUG, password=with_plugin.password)
    assert result.refused == (f"{SLUG}-transcript.html",)  # .json is allowed now; .html still is not
    fields = with_plugin.custom_fields(result.post_id)
    [chapters] = fields["chapters_url"]
    assert httpx.get(chapters, timeout=30).json()["chapters"][0]["startTime"] == 0

    page = browser.new_page()
    try:
        page.goto(result.post_url)
        assert page.locator("article.type-post script").count() == 0  # the script is the page's, not the post's
        link = page.locator(".diptych-listen a.diptych-play").nth(1)
        start = float(link.get_attribute("data-start") or "nan")
        assert start > 3
        link.click()
        page.wait_for_function(
            "s => { const a = document.querySelector('figure.diptych-player audio');"
            " return !a.paused && a.currentTime >= s; }",
            arg=start, timeout=20000,
        )
        assert page.url == result.post_url  # the page stayed: the player moved, no audio file opened
        now = page.evaluate("document.querySelector('figure.diptych-player audio').currentTime")
        assert start <= now < start + 5
    finally:
        page.close()
    assert load_settings(project.config_file).wordpress.status == "publish"
