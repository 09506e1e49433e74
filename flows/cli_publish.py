"""The commands that decide and publish: approve, reject, publish (to the site or WordPress),
unpublish, preview; and the one publish run that `run`, `review` and `approve` start."""

from __future__ import annotations

import argparse
import os
import threading

from flows.cli_pools import Add
from flows.logs import out as _out
from pipeline.config import Settings
from pipeline.layout import ProjectLayout


def prefect_ready(project: ProjectLayout, settings: Settings, *, preload: bool = False) -> threading.Thread | None:
    """Prefect's environment is set before prefect is first imported (here, not at start-up, so
    `--help` and `status` never import it), with the command's own locked-down server. With
    `preload`, the models load while the server starts: their thread is returned."""
    from flows.runtime import configure_prefect, launch_command_server, preload_models, wait_for_command_server

    configure_prefect(project)
    launch_command_server(project, timeout_s=settings.up.prefect_timeout_s)
    loading = preload_models(project, settings) if preload else None
    try:
        import flows.process_episode  # noqa: F401  (prefect's imports, while the server starts)

        wait_for_command_server()
    except BaseException:
        if loading is not None:
            loading.join()  # a process that exits while torch is loading aborts (see run_inbox)
        raise
    return loading


def publish_now(project: ProjectLayout, settings: Settings, slug: str) -> None:
    prefect_ready(project, settings)
    from flows.process_episode import run_publish

    state = run_publish(project, slug)
    page = project.site_dir / slug / "index.html"
    _out(f"{slug}: {state}" + (f" — {page}" if page.exists() else ""))


def cmd_approve(args: argparse.Namespace, project: ProjectLayout, settings: Settings) -> int:
    from pipeline.models import Approver
    from pipeline.review import approve_episode, describe_left, items_left

    layout = project.existing_episode(args.slug)
    left = items_left(layout, settings.review.low_confidence)
    approve_episode(layout, by=Approver.terminal, left_to_check=left, anyway=True)  # the command is the decision
    note = f" with {describe_left(left)}" if left else ""
    _out(f"{args.slug}: approved{note}")
    publish_now(project, settings, args.slug)
    return 0


def cmd_reject(args: argparse.Namespace, project: ProjectLayout, settings: Settings) -> int:
    from pipeline.review import request_changes

    record = request_changes(project.existing_episode(args.slug), args.note)
    _out(f"{args.slug}: {record.state} — {args.note}")
    return 0


def _to_wordpress(slug: str | None, project: ProjectLayout, settings: Settings) -> int:
    """Each approved episode (or SLUG) as a post on the blog; an unpublished one's post to draft."""
    from pipeline import episodes
    from pipeline.publish import wordpress

    password = wordpress.read_password(settings, root=project.root, environ=os.environ)
    records = [episodes.load_record(project.existing_episode(slug))] if slug else episodes.all_records(project)
    wanted = [r.slug for r in records if slug or wordpress.wants_post(project.episode(r.slug), r)]
    if not wanted:
        _out("no approved episode to post: approve one with 'diptych approve SLUG'")
        return 0
    for name in wanted:
        result = wordpress.publish_to_wordpress(project, settings, name, password=password)
        verb = "new post" if result.created else "post updated"
        _out(f"{name}: {verb} on {settings.wordpress.url} ({result.status}) — {result.post_url}")
        for refused in result.refused:
            _out(f"  note: {refused} left out: the blog does not accept this type of file")
    return 0


def cmd_publish(args: argparse.Namespace, project: ProjectLayout, settings: Settings) -> int:
    from pipeline import episodes
    from pipeline.models import EpisodeState
    from pipeline.publish import is_unpublished

    if args.to == "wordpress":
        return _to_wordpress(args.slug, project, settings)

    slugs = [args.slug] if args.slug else [
        r.slug for r in episodes.all_records(project)
        if r.state in (EpisodeState.approved, EpisodeState.published) and not is_unpublished(r)
    ]
    if args.slug:
        project.existing_episode(args.slug)
    if not slugs:
        _out("no approved episode to publish: approve one with 'diptych approve SLUG'")
        return 0
    for slug in slugs:
        publish_now(project, settings, slug)
    return 0


def cmd_unpublish(args: argparse.Namespace, project: ProjectLayout, settings: Settings) -> int:
    from pipeline.publish import unpublish_episode

    unpublish_episode(project, settings, args.slug)
    _out(f"{args.slug}: removed from {project.site_dir} and the feed; its workspace is kept")
    from pipeline.publish import wordpress

    if settings.wordpress.url and wordpress.has_post(project.episode(args.slug)):
        password = wordpress.read_password(settings, root=project.root, environ=os.environ)
        result = wordpress.draft_on_wordpress(project, settings, args.slug, password=password)
        _out(f"{args.slug}: its post on {settings.wordpress.url} is a draft again — {result.post_url}")
    return 0


def cmd_preview(args: argparse.Namespace, project: ProjectLayout, settings: Settings) -> int:
    from pipeline.publish import serve_site

    serve_site(project.site_dir, host="127.0.0.1", port=args.port)
    return 0


def add_publish_commands(add: Add) -> None:
    p = add("approve", cmd_approve, "approve an episode and publish it (says how many items were left to check)")
    p.add_argument("slug")
    p = add("reject", cmd_reject, "request changes on an episode")
    p.add_argument("slug")
    p.add_argument("--note", required=True, help="what should change")
    p = add("publish", cmd_publish, "(re)build the site for approved episodes, or post them on WordPress")
    p.add_argument("slug", nargs="?")
    p.add_argument("--to", choices=("site", "wordpress"), default="site",
                   help="site: output/site/ (default); wordpress: a post per episode on [wordpress] url")
    p = add("unpublish", cmd_unpublish, "remove an episode from the site and the feed (keeps its workspace)")
    p.add_argument("slug")
    p = add("preview", cmd_preview, "serve output/site/ locally")
    p.add_argument("--port", type=int, default=8000)
