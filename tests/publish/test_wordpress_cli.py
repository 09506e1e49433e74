"""`diptych publish --to wordpress` and `[wordpress] auto = true`, as a creator runs them, against the
real test blog."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.layout import ProjectLayout
from pipeline.publish.wordpress import PASSWORD_ENV
from tests.publish.wordpress_blog import (
    SLUG,
    Blog,
    copy_episode,
    snapshot,
)

pytestmark = pytest.mark.integration


def diptych(root: Path, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", **{PASSWORD_ENV: password})
    return subprocess.run(
        [sys.executable, "-m", "flows", "--root", str(root), *args],
        capture_output=True, text=True, timeout=600, env=env,
    )


def test_publish_to_wordpress_from_the_command_line(
    processed_episode: ProjectLayout, wordpress_blog: Blog, tmp_path: Path
) -> None:
    project, _ = copy_episode(processed_episode, tmp_path / "project", wordpress_blog)
    secret = wordpress_blog.password.get_secret_value()
    wrong = diptych(project.root, "publish", "--to", "wordpress", password="abcd efgh ijkl mnop")
    assert wrong.returncode == 1 and wrong.stdout == ""
    [line] = wrong.stderr.strip().splitlines()
    assert line.startswith(f"diptych: error: WordPress at {wordpress_blog.url} refused the application password")

    done = diptych(project.root, "publish", "--to", "wordpress", password=secret)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{SLUG}: new post on {wordpress_blog.url} (draft) — {wordpress_blog.url}/")
    assert "transcript.json left out" in done.stdout  # a stock blog refuses .json uploads
    assert secret not in done.stdout + done.stderr

    unpublished = diptych(project.root, "unpublish", SLUG, password=secret)
    assert unpublished.returncode == 0, unpublished.stderr
    assert "is a draft again" in unpublished.stdout
    again = diptych(project.root, "publish", "--to", "wordpress", password=secret)
    assert again.returncode == 0 and "no approved episode to post" in again.stdout


def test_auto_posts_when_the_episode_is_published(
    processed_episode: ProjectLayout, wordpress_blog: Blog, tmp_path: Path
) -> None:
    project, _ = copy_episode(
        processed_episode, tmp_path / "project", wordpress_blog, extra='auto = true\nstatus = "publish"\n'
    )
    secret = wordpress_blog.password.get_secret_value()
    site = snapshot(project.site_dir)
    run = diptych(project.root, "publish", SLUG, password=secret)  # the same flow as an approval
    assert run.returncode == 0, run.stderr
    wp = project.episode(SLUG).wordpress_json.read_text(encoding="utf-8")
    assert '"post_status": "publish"' in wp
    posts = wordpress_blog.rest("/wp/v2/posts", search=_guid(project), status="publish")
    assert len(posts) == 1 and posts[0]["title"]["rendered"] == "Présentation d&#8217;Éric"
    assert snapshot(project.site_dir).keys() == site.keys()
    assert secret not in run.stdout + run.stderr


def _guid(project: ProjectLayout) -> str:
    from pipeline.episodes import load_record

    return load_record(project.episode(SLUG)).guid
