"""A real WordPress for the tests (Debian's packages, started by scripts/wordpress-test.sh), and a
real processed episode to publish on it (no tests here).

The blog runs for the whole test run on 127.0.0.1 under a temporary folder: MariaDB on a socket,
PHP's built-in server, WordPress 6.1 with pretty permalinks, an author "creator" with an
application password, and DISALLOW_UNFILTERED_HTML so that every post goes through kses. The
episode is the French recording `ej-fra` taken by the real stages (normalize, Whisper `base`,
pairing, approval, the static site) from a drop with an article that tells only its first half.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import time
import uuid
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser
import httpx
import podcastparser
import pytest
from pydantic import SecretStr

from pipeline.config import Settings, load_settings
from pipeline.layout import ProjectLayout

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT_ROOT / "scripts" / "wordpress-test.sh"
SLUG = "ej-fra"

ARTICLE = """---
title: Présentation d'Éric
language: fr
description: Éric Joanis présente son travail au CNRC.
---

# Présentation d'Éric

Bonjour. Je m'appelle Éric Joanis. Je suis programmeur au sein de l'équipe des technologies pour les \
langues autochtones au CNRC.

J'ai fait une bonne partie de ma carrière en traduction automatique statistique, mais maintenant \
cette approche est déclassée par l'apprentissage profond.

En ce moment je travaille à l'alignement du hansard du Nunavut pour produire un corpus bilingue \
anglais-inuktitut.

Une note [entre crochets], un lien vers [le CNRC](https://nrc.canada.ca/) et un \
<script>alert("article")</script> que personne ne verra.
"""


@dataclass(frozen=True)
class Blog:
    url: str
    user: str
    password: SecretStr
    folder: Path  # the throwaway install (www/ is the document root)
    start_s: float  # how long the script took to start it

    @property
    def mu_plugins(self) -> Path:
        return self.folder / "www" / "wp-content" / "mu-plugins"

    def rest(self, route: str, **params: Any) -> Any:
        auth = (self.user, self.password.get_secret_value())
        response = httpx.get(f"{self.url}/wp-json{route}", params=params, auth=auth, timeout=30)
        response.raise_for_status()
        return response.json()

    def custom_fields(self, post_id: int) -> dict[str, list[str]]:
        """The post's custom fields as XML-RPC gives them to an editor: key → values."""
        body = xmlrpc.client.dumps(
            (0, self.user, self.password.get_secret_value(), post_id, ["custom_fields"]), methodname="wp.getPost"
        )
        response = httpx.post(f"{self.url}/xmlrpc.php", content=body, timeout=30)
        fields: dict[str, list[str]] = {}
        for field in xmlrpc.client.loads(response.content)[0][0]["custom_fields"]:
            fields.setdefault(field["key"], []).append(field["value"])
        return fields

    def run_cron(self) -> None:
        """What a visit does on a live blog: WordPress's scheduled jobs (do_enclose among them)."""
        httpx.get(f"{self.url}/wp-cron.php", timeout=30)

    def feed(self) -> tuple[Any, dict[str, Any]]:
        """WordPress's own feed, parsed by feedparser and by podcastparser."""
        data = httpx.get(f"{self.url}/feed/", timeout=30).content
        return feedparser.parse(data), podcastparser.parse(f"{self.url}/feed/", io.BytesIO(data))

    def plugin(self, name: str, php: str) -> Path:
        """Drop a must-use plugin in (the test removes it)."""
        path = self.mu_plugins / f"{name}.php"
        path.write_text("<?php\n" + php, encoding="utf-8")
        return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def wordpress_blog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Blog]:
    folder = tmp_path_factory.mktemp("wordpress")
    started = time.monotonic()
    try:
        run = subprocess.run(
            [str(SCRIPT), "start", str(folder), str(_free_port())],
            capture_output=True, text=True, timeout=900,
        )
        if run.returncode != 0:
            pytest.fail(f"{SCRIPT.name} start failed: {run.stderr.strip()[-2000:]}")
        env = dict(
            line.split("=", 1) for line in (folder / "wordpress.env").read_text(encoding="utf-8").splitlines()
        )
        yield Blog(
            url=env["WORDPRESS_URL"],
            user=env["WORDPRESS_USER"],
            password=SecretStr(env["WORDPRESS_APP_PASSWORD"]),
            folder=folder,
            start_s=time.monotonic() - started,
        )
    finally:
        subprocess.run([str(SCRIPT), "stop", str(folder)], capture_output=True, timeout=60)


def _settled(folder: Path) -> None:
    past = time.time() - 60
    for path in folder.iterdir():
        os.utime(path, (past, past))


@pytest.fixture(scope="session")
def processed_episode(speech: Path, tmp_path_factory: pytest.TempPathFactory) -> ProjectLayout:
    """A project whose episode went through the real stages and is published on the static site."""
    from pipeline import stages
    from pipeline.inbox import claim_drops
    from pipeline.models import Approver
    from pipeline.review import approve_episode
    from pipeline.transcribe.model_cache import default_models_dir

    root = tmp_path_factory.mktemp("episode") / "project"
    drop = root / "inbox" / SLUG
    drop.mkdir(parents=True)
    (root / "output").mkdir()
    shutil.copyfile(speech / "ej-fra.m4a", drop / "ej-fra.m4a")
    (drop / "article.md").write_text(ARTICLE, encoding="utf-8")
    cover = ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=0x336699:s=1400x1400"]
    subprocess.run([*cover, "-frames:v", "1", str(drop / "cover.png")], check=True)
    _settled(drop)
    project = ProjectLayout(root=root)
    settings = Settings(transcribe={"engine": "faster-whisper"})  # the same weights, faster on CPU
    assert claim_drops(project, settle_s=0).claimed == [SLUG]
    stages.run_normalize(project, settings, SLUG)
    models = settings.transcribe.models_dir or default_models_dir()
    stages.run_transcribe(project, settings, SLUG, models_dir=models)
    stages.run_pair(project, settings, SLUG)
    stages.run_review_gate(project, settings, SLUG)
    approve_episode(project.episode(SLUG), by=Approver.terminal, anyway=True)  # as 'diptych approve' does
    stages.run_publish(project, settings, SLUG)
    return project


def copy_episode(template: ProjectLayout, dest: Path, blog: Blog, *, extra: str = "") -> tuple[ProjectLayout, Settings]:
    """A copy of the processed project, as a new episode (its own guid), set up for the blog."""
    from pipeline.episodes import update_record

    shutil.copytree(template.root, dest)
    project = ProjectLayout(root=dest)
    update_record(project.episode(SLUG), guid=str(uuid.uuid4()))
    (dest / "diptych.toml").write_text(
        f'[wordpress]\nurl = "{blog.url}"\nuser = "{blog.user}"\n{extra}', encoding="utf-8"
    )
    return project, load_settings(project.config_file)


def snapshot(folder: Path, *, skip: tuple[str, ...] = ()) -> dict[str, tuple[int, int]]:
    """Every file under `folder`: its size and modification time."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in skip
    }
