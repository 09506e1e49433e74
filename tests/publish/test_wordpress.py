"""Publishing to a real WordPress (Debian's 6.1, started by scripts/wordpress-test.sh), read back as
a blog reader and a podcast app would: the REST API, the rendered post, the blog's own feed."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import httpx
import pytest

from pipeline.errors import WordPressError
from pipeline.layout import ProjectLayout
from pipeline.models import EpisodeRecord, Pairing
from pipeline.publish.wordpress import WordPressResult, draft_on_wordpress, publish_to_wordpress
from pipeline.publish.wordpress.media import WordPressRecord
from pipeline.store import read_model
from tests.publish.wordpress_blog import (
    SLUG,
    Blog,
    copy_episode,
    snapshot,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def episode(
    processed_episode: ProjectLayout, wordpress_blog: Blog, tmp_path: Path
) -> tuple[ProjectLayout, Blog]:
    project, _ = copy_episode(processed_episode, tmp_path / "project", wordpress_blog, extra='status = "publish"\n'
                              'category = "Podcast"\ntags = ["Nunavut", "traduction"]\n')
    return project, wordpress_blog


def _publish(project: ProjectLayout, blog: Blog) -> WordPressResult:
    from pipeline.config import load_settings

    return publish_to_wordpress(project, load_settings(project.config_file), SLUG, password=blog.password)


def _record(project: ProjectLayout) -> WordPressRecord:
    return read_model(project.episode(SLUG).wordpress_json, WordPressRecord)


def _enclosure(blog: Blog, post_id: int) -> list[str]:
    return blog.custom_fields(post_id).get("enclosure", [])


def test_the_post_reads_back_through_rest_the_page_and_the_feed(episode, browser) -> None:
    project, blog = episode
    result = _publish(project, blog)
    assert result.created and result.status == "publish"
    mp3 = project.site_dir / SLUG / f"{SLUG}.mp3"
    post = blog.rest(f"/wp/v2/posts/{result.post_id}", context="edit")
    assert post["title"]["raw"] == "Présentation d'Éric"
    assert "Éric Joanis présente son travail" in post["excerpt"]["raw"]
    published = read_model(project.episode(SLUG).state_json, EpisodeRecord).published_at
    assert published is not None and post["date_gmt"] == published.strftime("%Y-%m-%dT%H:%M:%S")
    assert post["featured_media"] and blog.rest(f"/wp/v2/media/{post['featured_media']}")["mime_type"] == "image/png"
    names = {t["name"] for t in blog.rest("/wp/v2/tags", include=",".join(map(str, post["tags"])))}
    assert names == {"Nunavut", "traduction"}
    assert [c["name"] for c in blog.rest("/wp/v2/categories", include=post["categories"][0])] == ["Podcast"]

    fields = blog.custom_fields(result.post_id)
    [enclosure] = fields["enclosure"]
    url, length, mime = enclosure.splitlines()
    assert (int(length), mime) == (mp3.stat().st_size, "audio/mpeg")
    assert httpx.get(url, timeout=30).content == mp3.read_bytes()  # the site's MP3, byte for byte
    assert fields["duration"] == ["0:00:34"]
    assert fields["transcript_url"][0].endswith(".vtt")
    assert "WEBVTT" in httpx.get(fields["transcript_url"][0], timeout=30).text

    _check_page(browser, result.post_url, url, project)
    blog.run_cron()  # WordPress's own enclosure job must neither drop nor double the field
    assert len(_enclosure(blog, result.post_id)) == 1
    parsed, podcast = blog.feed()
    [entry] = [e for e in parsed.entries if e.link == result.post_url]
    [item] = entry.enclosures
    assert (item.href, int(item.length), item.type) == (url, mp3.stat().st_size, "audio/mpeg")
    [episode] = [e for e in podcast["episodes"] if e["link"] == result.post_url]
    assert [(e["url"], e["file_size"], e["mime_type"]) for e in episode["enclosures"]] == [
        (url, mp3.stat().st_size, "audio/mpeg")
    ]


def _check_page(browser, post_url: str, mp3_url: str, project: ProjectLayout) -> None:
    """The rendered post as a reader's browser shows it, with JavaScript off."""
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1000, "height": 1400})
    page = context.new_page()
    page.goto(post_url)
    body = page.locator("article.type-post")  # the post as the theme shows it (post_class)
    assert body.locator("audio").get_attribute("src") == mp3_url
    assert body.locator("script").count() == 0
    assert "alert(" not in page.content()
    plays = body.locator(".diptych-listen a.diptych-play")
    assert plays.count() >= 3
    pairing = read_model(project.episode(SLUG).pairing_json, Pairing)
    start = next(b.start_s for b in pairing.blocks if b.status == "paired" and b.kind == "paragraph")
    first = plays.first
    assert first.get_attribute("href") == f"{mp3_url}#t={start:.2f}"
    assert re.fullmatch(r"▶\ufe0e\xa00:0\d – Écouter ce passage", (first.text_content() or "").strip())
    aside = body.locator("aside.diptych-only-audio")
    assert aside.count() == 1 and "Seulement dans l’épisode" in aside.inner_text()
    assert aside.locator("a.diptych-play").get_attribute("href").startswith(f"{mp3_url}#t=")
    assert "border-left" in (aside.get_attribute("style") or "")  # kept by kses
    assert "[entre crochets]" in body.inner_text()  # a bracket stays text, no shortcode eats it
    transcript = body.locator("details.diptych-transcript")
    assert transcript.locator("li").count() >= 3 and not transcript.evaluate("d => d.open")
    context.close()


def test_publishing_again_makes_no_second_post_and_no_second_upload(episode) -> None:
    project, blog = episode
    first = _publish(project, blog)
    media_before = blog.rest("/wp/v2/media", per_page=100, context="edit")
    second = _publish(project, blog)
    assert (second.post_id, second.created, second.uploaded) == (first.post_id, False, ())
    assert len(blog.rest("/wp/v2/media", per_page=100, context="edit")) == len(media_before)
    guid = read_model(project.episode(SLUG).state_json, EpisodeRecord).guid
    assert [p["id"] for p in blog.rest("/wp/v2/posts", search=guid, status="publish,draft")] == [first.post_id]
    # Without its wordpress.json (another machine, a restored backup) the guid still finds the post.
    project.episode(SLUG).wordpress_json.unlink()
    third = _publish(project, blog)
    assert (third.post_id, third.created) == (first.post_id, False)


def test_a_transcript_fixed_in_review_shows_in_the_post(episode) -> None:
    from pipeline import stages
    from pipeline.config import load_settings
    from pipeline.review import state as review

    project, blog = episode
    first = _publish(project, blog)
    layout = project.episode(SLUG)
    [old_vtt] = [m.media_id for m in _record(project).media.values() if m.role == "vtt"]
    current = review.load_for_review(layout)
    seg = current.segments[0]
    words = seg.text.split()
    fixed = review.apply_text_edit(current, seg.id, " ".join([*words[:-1], "Ulukhaktok."]))
    review.save_review(layout, fixed, base_version=current.version)
    stages.run_publish(project, load_settings(project.config_file), SLUG)  # what approving again does
    second = _publish(project, blog)
    assert second.post_id == first.post_id
    assert f"{SLUG}.mp3" not in second.uploaded and f"{SLUG}-transcript.vtt" in second.uploaded
    assert "Ulukhaktok." in httpx.get(second.post_url, timeout=30).text
    [vtt] = blog.custom_fields(second.post_id)["transcript_url"]
    assert "Ulukhaktok." in httpx.get(vtt, timeout=30).text
    with pytest.raises(httpx.HTTPStatusError, match="404"):  # the old version is gone from the blog
        blog.rest(f"/wp/v2/media/{old_vtt}", context="edit")


def test_an_unpublished_episode_goes_back_to_draft(episode) -> None:
    from pipeline.config import load_settings
    from pipeline.publish import unpublish_episode

    project, blog = episode
    first = _publish(project, blog)
    settings = load_settings(project.config_file)
    unpublish_episode(project, settings, SLUG)
    again = _publish(project, blog)  # what 'diptych publish --to wordpress' does for it
    assert (again.post_id, again.status) == (first.post_id, "draft")
    parsed, _ = blog.feed()
    assert first.post_url not in [e.link for e in parsed.entries]
    assert draft_on_wordpress(project, settings, SLUG, password=blog.password).status == "draft"


# --- errors: one line naming the blog and what to do; the workspace and the site untouched ----------


def _untouched(project: ProjectLayout):
    return snapshot(project.episode(SLUG).root), snapshot(project.site_dir)


def _fails(project: ProjectLayout, blog: Blog, *, password=None) -> str:
    from pipeline.config import load_settings

    before = _untouched(project)
    with pytest.raises(WordPressError) as caught:
        publish_to_wordpress(project, load_settings(project.config_file), SLUG, password=password or blog.password)
    message = str(caught.value)
    assert "\n" not in message and blog.password.get_secret_value() not in message
    assert _untouched(project) == before
    return message


def test_a_wrong_password_is_one_line_naming_the_blog(episode) -> None:
    from pydantic import SecretStr

    project, blog = episode
    message = _fails(project, blog, password=SecretStr("abcd efgh ijkl mnop qrst uvwx"))
    assert message.startswith(f"WordPress at {blog.url} refused the application password of user 'creator'")
    assert "Application Passwords" in message
    assert _publish(project, blog).created  # the next run, with the right password, goes through


def test_an_unknown_user_is_named(episode, tmp_path: Path) -> None:
    project, blog = episode
    toml = project.config_file.read_text(encoding="utf-8").replace('user = "creator"', 'user = "nobody"')
    project.config_file.write_text(toml, encoding="utf-8")
    message = _fails(project, blog)
    assert message.startswith(f"WordPress at {blog.url} has no user 'nobody'") and "wordpress.user" in message


def test_a_blog_whose_rest_api_is_blocked_is_named(episode) -> None:
    project, blog = episode
    # As a firewall rule or a security plugin does it: every REST request refused, not by WordPress.
    plugin = blog.plugin("block-rest", """
add_action('parse_request', function ($wp) {
    if (!empty($wp->query_vars['rest_route'])) { status_header(403); echo '<h1>Forbidden</h1>'; exit; }
}, 0);
""")
    try:
        message = _fails(project, blog)
    finally:
        plugin.unlink()
    assert message.startswith(f"WordPress at {blog.url}: its REST API is off or blocked") and "403" in message
    assert _publish(project, blog).created


def test_a_blog_that_does_not_answer_is_named(episode, tmp_path: Path) -> None:
    project, blog = episode
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    toml = project.config_file.read_text(encoding="utf-8").replace(blog.url, closed)
    project.config_file.write_text(toml, encoding="utf-8")
    message = _fails(project, blog)
    assert message.startswith(f"WordPress at {closed} does not answer") and "wordpress.url" in message


def test_a_file_over_the_blogs_upload_limit_is_named_and_retried(episode) -> None:
    project, blog = episode
    # WordPress's own hook for upload limits (the one multisite's size check uses): 100 KB here.
    plugin = blog.plugin("upload-limit", """
add_filter('wp_handle_sideload_prefilter', function ($file) {
    if (filesize($file['tmp_name']) > 100 * 1024) {
        $file['error'] = 'This file is too big. Files must be less than 100 KB in size.';
    }
    return $file;
});
""")
    try:
        message = _fails(project, blog)
    finally:
        plugin.unlink()
    size = (project.site_dir / SLUG / f"{SLUG}.mp3").stat().st_size
    assert message.startswith(f"WordPress at {blog.url} refused {SLUG}.mp3 ({size / 1e6:.1f} MB)")
    assert "upload limit" in message
    result = _publish(project, blog)  # the limit raised: the next run goes through
    assert result.created and f"{SLUG}.mp3" in result.uploaded
