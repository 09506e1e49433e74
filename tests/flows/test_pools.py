"""Beyond one machine, for real: PostgreSQL (a throwaway cluster), `diptych up --database`, two
"machines" (each a folder of its own with its own PREFECT_HOME, running a CPU worker and a speech
worker as separate processes), six short real episodes (three dropped in the inbox, three imported
from a WordPress export), one machine lost (both its workers and their runs killed with kill -9)
while it transcribes; and the server restarted mid-batch.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import feedparser
import pytest

from pipeline import episodes
from pipeline.store import sha256_file
from pipeline.transcribe.model_cache import default_models_dir, install_model
from tests.factories import stop_process_groups
from tests.flows.postgres import PostgresCluster, free_port, start_cluster

pytestmark = pytest.mark.integration

CONFIG = """
[show]
title = "Back catalogue"
author = "Eric"
owner_email = "eric@example.org"
language = "en"
base_url = "https://example.org/podcast/"

[run]
settle_s = 0.5

[review]
required = false  # the show publishes without review: each episode ends published

[workers]
heartbeat_s = 30
crash_after_s = 75
"""
# The clips loud enough to be speech for the normalize stage (the others are under -60 LUFS).
DROPPED = ["fleurs-en-000", "fleurs-en-001", "fleurs-fr-002"]
POSTED = ["fleurs-fr-001", "fleurs-fr-003", "fleurs-fr-004"]
WXR_ITEM = """
  <item>
    <title>{title}</title>
    <pubDate>Mon, 0{n} Mar 2021 08:00:00 +0000</pubDate>
    <content:encoded><![CDATA[<p>{text}</p>
[audio ogg="https://blog.example.org/wp-content/uploads/2021/03/{name}.ogg"][/audio]]]></content:encoded>
    <wp:post_name>{slug}</wp:post_name>
    <wp:post_date>2021-03-0{n} 09:00:00</wp:post_date>
    <wp:status>publish</wp:status>
    <wp:post_type>post</wp:post_type>
  </item>"""


def wxr(speech: Path, posted: list[str]) -> str:
    items = "".join(
        WXR_ITEM.format(title=f"Épisode {n}", n=n, slug=f"episode-{n}", name=name,
                        text=(speech / f"{name}.txt").read_text(encoding="utf-8").strip())
        for n, name in enumerate(posted, start=1)
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:wp="http://wordpress.org/export/1.2/">\n<channel><title>Blog</title>'
            f"{items}\n</channel></rss>\n")


@dataclass
class Cluster:
    root: Path
    api_url: str
    env: dict[str, str]
    up: subprocess.Popen[str]
    workers: dict[str, subprocess.Popen[str]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def diptych(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "flows", "--root", str(self.root), *args],
                              capture_output=True, text=True, timeout=timeout, env=self.env)

    def start_worker(self, machine: Path, pool: str) -> None:
        name = f"{machine.name}-{pool}"
        machine.mkdir(exist_ok=True)
        log = machine / f"{pool}.log"
        env = {**self.env, "PREFECT_HOME": str(machine / "prefect")}
        self.workers[name] = subprocess.Popen(
            [sys.executable, "-m", "flows", "--root", str(self.root), "worker", "--pool", pool, "--limit", "1"],
            cwd=machine, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        self.logs[name] = log

    def runs_by_worker(self) -> dict[str, set[str]]:
        """Flow-run ids each worker submitted, from its own log."""
        pattern = re.compile(r"submitting flow run '([0-9a-f-]{36})'")
        return {name: set(pattern.findall(log.read_text(errors="replace"))) for name, log in self.logs.items()}

    def all_logs(self) -> str:
        return "\n".join(f"== {n}\n{p.read_text(errors='replace')[-3000:]}" for n, p in self.logs.items())


def _wait(check, timeout_s: float, what: str, cluster: Cluster):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(2)
    pytest.fail(f"{what} not within {timeout_s:.0f} s\n{cluster.all_logs()}")


@pytest.fixture(scope="module")
def models_dir() -> Path:
    folder = default_models_dir()
    install_model("base", folder)
    return folder


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    # Not under pytest's own temporary folder: pytest makes that folder private again (0700) when
    # any other pytest session starts, and the server, running as the postgres user, would lose
    # its data directory.
    folder = Path(tempfile.mkdtemp(prefix="diptych-postgres-"))
    cluster = start_cluster(folder / "cluster")
    yield cluster
    cluster.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_wrong_or_unreachable_database_is_one_line(project, postgres):
    run = lambda url: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "flows", "--root", str(project.root), "up", "--database", url,
         "--prefect-port", str(free_port()), "--review-port", str(free_port())],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PGPASSWORD": postgres.password})
    wrong = run("mysql://diptych@127.0.0.1/prefect")
    assert wrong.returncode != 0
    assert wrong.stderr.strip().count("\n") == 0 and "postgresql+asyncpg://" in wrong.stderr
    down = run(f"postgresql+asyncpg://diptych@127.0.0.1:{free_port()}/prefect")
    assert down.returncode != 0
    assert down.stderr.strip().count("\n") == 0 and "cannot be reached" in down.stderr


def test_worker_refuses_a_missing_project_folder(tmp_path):
    done = subprocess.run([sys.executable, "-m", "flows", "--root", str(tmp_path / "not-mounted"), "worker",
                           "--pool", "speech"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and "not-mounted" in done.stderr and "mount" in done.stderr


@pytest.fixture
def cluster(project, postgres, models_dir, tmp_path) -> Iterator[Cluster]:
    (project.root / "diptych.toml").write_text(CONFIG, encoding="utf-8")
    c = _start_server(project.root, postgres.url, postgres.password, tmp_path)
    try:
        for machine in ("machine-a", "machine-b"):
            for pool in ("cpu", "speech"):
                c.start_worker(tmp_path / machine, pool)
        yield c
    finally:
        _stop_all(c)


def _start_server(root: Path, database_url: str, password: str, folder: Path) -> Cluster:
    """`diptych up --database` for the project, once it watches the inbox."""
    port = free_port()
    env = {**os.environ, "PGPASSWORD": password, "PYTHONUNBUFFERED": "1"}
    env.pop("PREFECT_API_URL", None)
    api_url = f"http://127.0.0.1:{port}/api"
    c = Cluster(root=root, api_url=api_url, env={**env, "PREFECT_API_URL": api_url}, up=None,  # type: ignore[arg-type]
                logs={"up": folder / "up.log"})
    c.up = _start_up(c, database_url, port, review_port=free_port())
    return c


def _start_up(c: Cluster, database_url: str, port: int, *, review_port: int) -> subprocess.Popen[str]:
    log = c.logs["up"]
    mark = len(log.read_text()) if log.exists() else 0
    env = {k: v for k, v in c.env.items() if k != "PREFECT_API_URL"}
    up = subprocess.Popen(
        [sys.executable, "-m", "flows", "--root", str(c.root), "up", "--database", database_url,
         "--prefect-port", str(port), "--review-port", str(review_port)],
        env=env, stdout=log.open("a"), stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    c.up = up
    _wait(lambda: "watching the inbox" in log.read_text()[mark:], 240, "diptych up ready", c)
    return up


def _stop_all(c: Cluster) -> None:
    """The workers first, while their server still answers (stopped together with it, a worker kept
    trying to reach it and had not stopped a minute later), then `diptych up` and its server."""
    stop_process_groups(list(c.workers.values()))
    stop_process_groups([c.up])


def _auth(cluster: Cluster) -> tuple[str, str]:
    """The project's secret for the server `diptych up` locked (basic authentication)."""
    user, _, password = (cluster.root / "output" / ".diptych" / "prefect-secret").read_text().strip().partition(":")
    return user, password


def _runs(cluster: Cluster, **flow_run_filter: object) -> list[dict]:
    import httpx

    body = {"flow_runs": flow_run_filter, "limit": 200}
    # The locked server wants a CSRF token with a POST, as Prefect's own client sends it.
    client = str(uuid.uuid4())
    token = httpx.get(f"{cluster.api_url}/csrf-token", params={"client": client}, timeout=30, auth=_auth(cluster))
    token.raise_for_status()
    headers = {"Prefect-Csrf-Token": token.json()["token"], "Prefect-Csrf-Client": client}
    response = httpx.post(f"{cluster.api_url}/flow_runs/filter", json=body, timeout=30, auth=_auth(cluster),
                          headers=headers)
    response.raise_for_status()
    return list(response.json())


def _deployment_id(cluster: Cluster, flow: str) -> str:
    import httpx

    response = httpx.get(f"{cluster.api_url}/deployments/name/{flow}/project", timeout=30, auth=_auth(cluster))
    response.raise_for_status()
    return str(response.json()["id"])


def _transcribing_on(cluster: Cluster, worker: str) -> dict | None:
    """A transcription run that `worker` took and that is running now."""
    ids = cluster.runs_by_worker()[worker]
    if not ids:
        return None
    running = _runs(cluster, id={"any_": sorted(ids)}, state={"type": {"any_": ["RUNNING"]}},
                    deployment_id={"any_": [_deployment_id(cluster, "transcribe-episode")]})
    return next((r for r in running if r["infrastructure_pid"]), None)


def _episode_runs_on(cluster: Cluster, worker: str) -> list[dict]:
    """The episode runs that `worker` took and that are running now."""
    ids = cluster.runs_by_worker()[worker]
    if not ids:
        return []
    running = _runs(cluster, id={"any_": sorted(ids)}, state={"type": {"any_": ["RUNNING"]}},
                    deployment_id={"any_": [_deployment_id(cluster, "process-episode")]})
    return [r for r in running if r["infrastructure_pid"]]


def _place_drops(inbox: Path, speech: Path) -> None:
    for name in DROPPED:
        text = (speech / f"{name}.txt").read_text(encoding="utf-8").strip()
        (inbox / f"{name}.md").write_text(f"---\ntitle: {name}\nlanguage: en\n---\n\n# {name}\n\n{text}\n",
                                          encoding="utf-8")
        (inbox / f"{name}.ogg").write_bytes((speech / f"{name}.ogg").read_bytes())


def _catalogue(folder: Path, speech: Path, posted: list[str] = POSTED) -> dict[Path, str]:
    uploads = folder / "uploads" / "2021" / "03"
    uploads.mkdir(parents=True)
    for name in posted:
        (uploads / f"{name}.ogg").write_bytes((speech / f"{name}.ogg").read_bytes())
    (folder / "blog.WordPress.2024-01-01.xml").write_text(wxr(speech, posted), encoding="utf-8")
    return {p: sha256_file(p) for p in folder.rglob("*") if p.is_file()}


def _all_published(root: Path, count: int = 6) -> list[episodes.EpisodeRecord] | None:
    records = episodes.all_records(episodes_project(root))
    failed = [r for r in records if str(r.state) == "failed"]
    if failed:
        pytest.fail(f"{failed[0].slug} failed: {failed[0].error}")
    done = [r for r in records if str(r.state) == "published"]
    return done if len(done) == count else None


def episodes_project(root: Path):
    from pipeline.layout import ProjectLayout

    return ProjectLayout(root=root)


def test_six_episodes_on_two_machines_survive_a_lost_machine(cluster, speech, tmp_path):
    _place_drops(cluster.root / "inbox", speech)
    originals = _catalogue(tmp_path / "catalogue", speech)
    imported = cluster.diptych("import", str(tmp_path / "catalogue"))
    assert imported.returncode == 0, imported.stderr
    assert "3 episodes queued" in imported.stdout, imported.stdout
    again = cluster.diptych("import", str(tmp_path / "catalogue"))
    assert again.returncode == 0 and "0 episodes queued" in again.stdout and "3 already imported" in again.stdout

    # Machine b lost while it transcribes: both its workers and the runs they started, kill -9.
    victim = _wait(lambda: _transcribing_on(cluster, "machine-b-speech"), 420, "a transcription on machine b", cluster)
    lost = [victim, *_episode_runs_on(cluster, "machine-b-cpu")]
    for run in lost:
        os.kill(int(str(run["infrastructure_pid"]).rsplit(":", 1)[-1]), signal.SIGKILL)
    for worker in ("machine-b-speech", "machine-b-cpu"):
        os.killpg(cluster.workers[worker].pid, signal.SIGKILL)
    killed_slug = victim["parameters"]["slug"]
    lost_episode_runs = {run["id"]: run["parameters"]["slug"] for run in lost[1:]}

    published = _wait(lambda: _all_published(cluster.root), 900, "six published episodes", cluster)
    assert {r.slug for r in published} == {*DROPPED, "episode-1", "episode-2", "episode-3"}
    for record in published:  # each stage ran once: one transcript, one publication
        states = [str(t.state) for t in record.history]
        assert states.count("transcribed") == 1 and states.count("published") == 1, (record.slug, states)

    by_slug: dict[str, list[str]] = {}
    for run in _runs(cluster, deployment_id={"any_": [_deployment_id(cluster, "transcribe-episode")]}):
        by_slug.setdefault(run["parameters"]["slug"], []).append(run["state_type"])
    assert by_slug[killed_slug].count("CRASHED") >= 1, by_slug
    # A lost episode run's transcription may have ended on machine a: its new run finds it done.
    assert all(states.count("COMPLETED") >= 1 for states in by_slug.values()), by_slug
    episode_runs = _runs(cluster, deployment_id={"any_": [_deployment_id(cluster, "process-episode")]})
    for run_id, slug in lost_episode_runs.items():  # crashed, and queued again by the automation
        states = {r["id"]: r["state_type"] for r in episode_runs if r["parameters"]["slug"] == slug}
        assert states[run_id] == "CRASHED" and "COMPLETED" in states.values(), (slug, states)

    work = cluster.runs_by_worker()
    assert work["machine-a-cpu"] and work["machine-b-cpu"], work
    assert work["machine-a-speech"] and work["machine-b-speech"], work

    feed = feedparser.parse((cluster.root / "output" / "site" / "feed.xml").read_bytes())
    guids = [e.id for e in feed.entries]
    assert len(guids) == 6 == len(set(guids))
    dates = {e.link.rstrip("/").rsplit("/", 1)[-1]: e.published_parsed for e in feed.entries}
    assert [dates[f"episode-{n}"][:3] for n in (1, 2, 3)] == [(2021, 3, 1), (2021, 3, 2), (2021, 3, 3)]
    assert {p: sha256_file(p) for p in originals} == originals  # the imported folder is untouched

    status = cluster.diptych("status")
    assert "3 of 3 done" in status.stdout and "0 failed" in status.stdout, status.stdout
    print(json.dumps({"killed": killed_slug, "lost_episode_runs": sorted(lost_episode_runs.values()),
                      "runs": {k: len(v) for k, v in work.items()}}))


def test_a_batch_goes_on_when_the_server_restarts(project, postgres, models_dir, speech, tmp_path):
    """`diptych up` (and its Prefect server) stopped mid-batch and started again on the same database
    and port: the queued and running episodes go on, each published once."""
    (project.root / "diptych.toml").write_text(CONFIG, encoding="utf-8")
    postgres.create_database("restart")
    c = _start_server(project.root, postgres.url_for("restart"), postgres.password, tmp_path)
    port = int(c.api_url.rsplit(":", 1)[1].split("/")[0])
    try:
        for pool in ("cpu", "speech"):
            c.start_worker(tmp_path / "machine", pool)
        _catalogue(tmp_path / "catalogue", speech, POSTED[:2])
        imported = c.diptych("import", str(tmp_path / "catalogue"))
        assert imported.returncode == 0 and "2 episodes queued" in imported.stdout, imported.stdout + imported.stderr

        def first_published() -> bool:
            return any(str(r.state) == "published" for r in episodes.all_records(episodes_project(c.root)))

        _wait(first_published, 600, "a first published episode", c)
        os.killpg(c.up.pid, signal.SIGTERM)
        assert c.up.wait(120) == 0, c.all_logs()
        left = [r.slug for r in episodes.all_records(episodes_project(c.root)) if str(r.state) != "published"]
        assert left, "the batch ended before the server stopped: nothing to go on with"
        time.sleep(5)
        _start_up(c, postgres.url_for("restart"), port, review_port=free_port())

        published = _wait(lambda: _all_published(c.root, 2), 900, "both episodes published", c)
        for record in published:
            states = [str(t.state) for t in record.history]
            assert states.count("transcribed") == 1 and states.count("published") == 1, (record.slug, states)
        guids = [e.id for e in feedparser.parse((c.root / "output" / "site" / "feed.xml").read_bytes()).entries]
        assert len(guids) == 2 == len(set(guids))
        status = c.diptych("status")
        assert "2 of 2 done" in status.stdout and "0 failed" in status.stdout, status.stdout
        print(json.dumps({"left_when_stopped": left}))
    finally:
        _stop_all(c)
