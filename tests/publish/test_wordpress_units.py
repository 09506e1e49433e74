"""Publishing to WordPress without a blog: the password's sources, the settings, the post's HTML."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from pipeline.config import Settings, load_settings
from pipeline.errors import ConfigError
from pipeline.publish.chapters import ChapterMark
from pipeline.publish.pages import PageAside, PageBlock, PageSegment, mark_same_starts
from pipeline.publish.wordpress import PASSWORD_ENV, read_password
from pipeline.publish.wordpress.client import Credentials, WordPressClient
from pipeline.publish.wordpress.content import PostContent, render_post_content
from pipeline.publish.wordpress.media import episode_files

MP3 = "https://blog.example.org/wp-content/uploads/2026/03/recap.mp3"


def _settings(**wordpress: object) -> Settings:
    return Settings(wordpress={"url": "https://blog.example.org", "user": "ana", **wordpress})


def test_the_environment_gives_the_password_first(tmp_path: Path) -> None:
    secret = read_password(_settings(), root=tmp_path, environ={PASSWORD_ENV: " abcd efgh ijkl "})
    assert secret.get_secret_value() == "abcd efgh ijkl"
    assert "abcd" not in repr(secret) and "abcd" not in str(secret)


def test_a_private_password_file_is_read_and_a_shared_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "wordpress-password"
    path.write_text("abcd efgh\n", encoding="utf-8")
    os.chmod(path, 0o600)
    settings = _settings(password_file="wordpress-password")
    assert read_password(settings, root=tmp_path, environ={}).get_secret_value() == "abcd efgh"
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match=r"others can read this password file \(mode 644\); run 'chmod 600 "):
        read_password(settings, root=tmp_path, environ={})


def test_no_password_names_both_places_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_password(_settings(), root=tmp_path, environ={})
    message = str(caught.value)
    assert PASSWORD_ENV in message and "wordpress.password_file" in message and "\n" not in message


def test_the_password_is_not_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "diptych.toml"
    toml.write_text('[wordpress]\nurl = "https://blog.example.org"\npassword = "abcd"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'wordpress.password'"):
        load_settings(toml)
    toml.write_text('[wordpress]\nurl = "https://blog.example.org"\nstatus = "publish"\n', encoding="utf-8")
    monkeypatch.setenv(PASSWORD_ENV, "abcd")  # read by read_password only, ignored by the settings
    settings = load_settings(toml)
    assert (settings.wordpress.status, settings.wordpress.auto) == ("publish", False)
    assert "abcd" not in settings.model_dump_json()


def _post(**extra: object) -> PostContent:
    flow = (
        PageBlock('<h2 id="h">Le mois</h2>', "h", "heading"),
        PageBlock('<p id="p-1">Texte [audio] et <img src="images/photo.jpg" alt="x"></p>', "p-1", "paragraph",
                  61.5, 70.0),
        PageAside(80.0, 95.0, "Ce que l'article ne dit pas."),
        PageBlock('<p id="p-2">Pas dit.</p>', "p-2", "paragraph"),
    )
    fields: dict[str, object] = {
        "guid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "language": "fr",
        "mp3_url": MP3,
        "flow": flow,
        "chapters": (ChapterMark("Le mois", 61.5, 120.0, "h"),),
        "segments": (PageSegment(0.0, 4.0, "Bonjour.", "Ana"),),
        "captions_url": MP3.replace(".mp3", "-transcript.vtt"),
        "downloads": (("Audio (MP3)", MP3),),
        "images": {"images/photo.jpg": "https://blog.example.org/wp-content/uploads/recap-photo.jpg"},
    }
    return PostContent(**{**fields, **extra})  # type: ignore[arg-type]


def test_the_post_is_one_custom_html_block_that_no_shortcode_or_autop_changes() -> None:
    html = render_post_content(_post())
    assert html.startswith("<!-- wp:html -->\n") and html.rstrip().endswith("<!-- /wp:html -->")
    assert "[" not in html and "Texte &#91;audio] et" in html
    assert 'data-diptych-guid="1b4e28ba-2fa1-11d2-883f-0016d3cca427"' in html
    assert '<img src="https://blog.example.org/wp-content/uploads/recap-photo.jpg"' in html


def test_each_told_passage_links_to_its_time_in_the_audio() -> None:
    html = render_post_content(_post())
    assert f'<audio controls preload="metadata" src="{MP3}"' in html
    assert f'<a class="diptych-play" href="{MP3}#t=61.50" data-start="61.50" data-end="70.00">▶' in html
    assert '<aside class="diptych-only-audio" data-start="80.00" data-end="95.00" style="' in html
    assert f'href="{MP3}#t=80.00"' in html and "Seulement dans l’épisode" in html
    assert html.count('class="diptych-play"') == 2  # the untold paragraph has no link
    assert f'<a class="diptych-seek" href="{MP3}#t=61.50" data-start="61.50">1:01 Le mois</a>' in html
    assert '<details class="diptych-transcript">' in html and "<strong>Ana:</strong> Bonjour." in html
    assert "<script" not in html


def test_a_spoken_heading_and_the_passage_it_opens_have_one_link_as_on_the_site() -> None:
    flow = mark_same_starts([
        PageBlock('<h2 id="h">Le mois</h2>', "h", "heading", 12.0, 13.5),
        PageBlock('<p id="p-1">Le mois fut bon.</p>', "p-1", "paragraph", 12.4, 20.0),
        PageBlock('<ul><li id="li-1">Un atelier.</li></ul>', "li-1", "list_item", 21.0, 24.0),
    ])
    html = render_post_content(_post(flow=tuple(flow)))
    assert html.count('class="diptych-play"') == 2  # the heading's and the list item's
    assert f'href="{MP3}#t=12.00"' in html and "#t=12.40" not in html
    assert '<p id="p-1">Le mois fut bon.</p>' in html and f'href="{MP3}#t=21.00"' in html


def test_the_media_have_names_of_their_own_episode(tmp_path: Path) -> None:
    folder = tmp_path / "recap"
    (folder / "images" / "img").mkdir(parents=True)
    (folder / "images" / "img" / "stand.jpg").write_bytes(b"jpeg")
    cover = tmp_path / "cover.PNG"
    names = {(f.role, f.name, f.required) for f in episode_files(folder, "recap", cover=cover)}
    assert ("mp3", "recap.mp3", True) in names and ("cover", "recap-cover.png", True) in names
    assert ("vtt", "recap-transcript.vtt", True) in names and ("chapters", "recap-chapters.json", False) in names
    assert ("image:images/img/stand.jpg", "recap-stand.jpg", True) in names


# --- answers the test blog (WordPress 6.1 on PHP's server) does not give: newer WordPress, web servers


def _client_answering(status: int, body: bytes, content_type: str = "application/json") -> WordPressClient:
    """A client whose blog answers every request so (httpx's mock transport: no network)."""
    transport = httpx.MockTransport(
        lambda request: httpx.Response(status, content=body, headers={"content-type": content_type})
    )
    creds = Credentials("https://blog.example.org", "ana", SecretStr("abcd efgh"))
    return WordPressClient(creds, transport=transport)


@pytest.mark.parametrize(
    ("status", "body", "start"),
    [
        (401, b'{"code": "incorrect_password", "message": "x"}', " refused the application password of user 'ana'"),
        (401, b'{"code": "invalid_username", "message": "x"}', " has no user 'ana'"),
        (404, b"<h1>Not Found</h1>", ": its REST API is off or blocked"),
        (502, b"<h1>Bad Gateway</h1>", " answers HTTP 502"),
    ],
)
def test_what_the_blog_answers_becomes_one_line(status: int, body: bytes, start: str) -> None:
    from pipeline.errors import WordPressError

    client = _client_answering(status, body, "text/html" if body.startswith(b"<") else "application/json")
    with pytest.raises(WordPressError) as caught:
        client.check()
    assert str(caught.value).startswith(f"WordPress at https://blog.example.org{start}")
    assert "abcd" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_web_servers_413_is_the_upload_limit(tmp_path: Path) -> None:
    from pipeline.errors import WordPressError

    mp3 = tmp_path / "recap.mp3"
    mp3.write_bytes(b"\xff" * 2_000_000)
    client = _client_answering(413, b"<h1>413 Request Entity Too Large</h1>", "text/html")
    with pytest.raises(WordPressError, match=r"refused recap.mp3 \(2.0 MB\): it is larger than the blog accepts"):
        client.upload_media(mp3, name="recap.mp3", mime_type="audio/mpeg")
