"""The `diptych` command. Heavy modules (whisper, torch, prefect) are imported only by the
subcommands that need them, so `--help` and `status` stay fast."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from flows.cli_pools import add_pool_commands
from flows.cli_publish import add_publish_commands, prefect_ready, publish_now
from flows.logs import out as _out
from pipeline import __version__
from pipeline.config import Settings, check_show_settings, load_settings
from pipeline.errors import DiptychError
from pipeline.layout import ProjectLayout

log = logging.getLogger("diptych")


def find_root(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit).resolve()
    if env := os.environ.get("DIPTYCH_ROOT"):
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "diptych.toml").is_file():
            return folder
    return here


def cmd_run(args: argparse.Namespace, project: ProjectLayout, settings: Settings) -> int:
    from pipeline import episodes

    project.inbox.mkdir(parents=True, exist_ok=True)
    project.episodes_dir.mkdir(parents=True, exist_ok=True)
    show_progress = not args.quiet and sys.stderr.isatty()
    loading = prefect_ready(project, settings, preload=True)
    from flows.process_episode import run_inbox

    result = run_inbox(project, settings, show_progress=show_progress, loading=loading)
    if not isinstance(result, dict):
        raise DiptychError(f"the processing run failed: {result}")
    if args.approve:
        _approve_typed(project, settings, list(result.get("episodes", {})))
    claim = result.get("claim") or {}
    if isinstance(claim, dict):
        for line in claim.get("messages", []):
            _out(f"note: {line}")
        for line in claim.get("errors", []):
            _out(f"error: {line}")
    failed = []
    rows = []
    for slug in result.get("episodes", {}):
        record = episodes.load_record(project.episode(slug))
        rows.append(record)
        if record.error is not None and str(record.state) == "failed":
            failed.append(record)
    if args.json:
        _out(json.dumps({"episodes": {r.slug: str(r.state) for r in rows}, "claim": claim}, indent=2))
    else:
        for record in rows:
            extra = f" — {record.error.stage}: {record.error.message}" if record.error else ""
            _out(f"{record.slug}: {record.state}{extra}")
        if not rows:
            _out("nothing to do: drop a recording and its article in inbox/ (see inbox/README.md)")
    claim_errors = claim.get("errors", []) if isinstance(claim, dict) else []
    return 1 if failed or claim_errors else 0


def _approve_typed(project: ProjectLayout, settings: Settings, slugs: list[str]) -> None:
    """`run --approve`, typed in a terminal: the person's approval of what this run took to review,
    recorded as theirs, then published (the processing run itself never approves)."""
    from flows.process_episode import run_publish
    from pipeline import episodes
    from pipeline.models import Approver, EpisodeState
    from pipeline.review import approve_episode, items_left

    for slug in slugs:
        layout = project.episode(slug)
        if episodes.load_record(layout).state not in (EpisodeState.awaiting_review, EpisodeState.changes_requested):
            continue
        left = items_left(layout, settings.review.low_confidence)
        approve_episode(layout, by=Approver.terminal, left_to_check=left, anyway=True)
        run_publish(project, slug)


def cmd_status(args: argparse.Namespace, project: ProjectLayout, settings: Settings) -> int:
    from pipeline.status import batch_progress, not_live_text, status_rows

    rows = status_rows(project)
    if args.json:
        _out(json.dumps([r.as_json() for r in rows], indent=2, ensure_ascii=False))
        return 0
    batch = batch_progress(project)
    if not rows:
        _out(f"no episodes yet in {project.episodes_dir}: drop one in {project.inbox}/")
        if batch is not None:
            _out(batch.describe())
        return 0
    header = ("SLUG", "STATE", "DURATION", "LANG", "FLAGGED", "LAST CHANGE", "TITLE")
    table = [header] + [
        (r.slug, r.state, r.duration, r.language or "—", str(r.flagged), r.last_change, r.title) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        _out("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
    for r in rows:
        details = [f"coverage: {r.coverage}"] if r.coverage != "—" else []
        details += [f"error: {r.failure}"] if r.error else []
        details += [f"changes requested: {r.note}"] if r.note and r.state == "changes_requested" else []
        details += [f"warning: {w}" for w in r.warnings]
        if r.changes_not_live:
            details.append(f"published — {not_live_text(r.changes_not_live)}: 'diptych publish {r.slug}' applies them")
        for line in details:
            _out(f"  {r.slug}: {line}")
    if batch is not None:
        _out(batch.describe())
    return 0


def cmd_review(args: argparse.Namespace, project: ProjectLayout, settings: Settings) -> int:
    from pipeline import review

    if args.export or args.import_file:
        if not args.slug:
            raise DiptychError("--export and --import need the episode's slug: diptych review SLUG --export FILE")
        layout = project.existing_episode(args.slug)
        current = review.load_for_review(layout)
        if args.export:
            Path(args.export).write_text(review.export_text(current), encoding="utf-8")
            _out(f"{args.slug}: transcript written to {args.export}; edit it, then: "
                 f"diptych review {args.slug} --import {args.export}")
            return 0
        text = Path(args.import_file).read_text(encoding="utf-8")
        saved = review.save_review(layout, review.import_text(text, current), base_version=current.version)
        _out(f"{args.slug}: imported {args.import_file} (review version {saved.version})")
        return 0
    from pipeline.review import serve

    publishing = threading.Lock()  # held while an approval's publish run is in progress

    def on_approve(slug: str) -> None:
        with publishing:
            publish_now(project, settings, slug)

    try:
        serve(project, settings, host=args.host, port=args.port or settings.review.port, slug=args.slug,
              on_approve=on_approve, open_browser=not args.no_browser)
    finally:
        # Stopped (Ctrl-C, SIGTERM) while publishing: that run ends first, then its server stops.
        if publishing.acquire(timeout=PUBLISH_WAIT_S):
            publishing.release()
    return 0


PUBLISH_WAIT_S = 120.0  # how long `review` waits, when stopped, for a publish run in progress


def cmd_up(args: argparse.Namespace, project: ProjectLayout, settings: Settings) -> int:
    from flows.up import UpOptions, run_up

    project.inbox.mkdir(parents=True, exist_ok=True)
    project.episodes_dir.mkdir(parents=True, exist_ok=True)
    options = UpOptions(prefect_port=args.prefect_port or settings.up.prefect_port,
                        review_port=args.review_port or settings.review.port,
                        database=args.database or settings.up.database)

    def emit(line: str) -> None:
        _out(line)
        sys.stdout.flush()  # one line per event, as it happens, also into a pipe or a log

    return run_up(project, settings, options, emit=emit)


def cmd_models(args: argparse.Namespace, project: ProjectLayout, settings: Settings) -> int:
    from pipeline.transcribe import default_models_dir, install_model, list_models

    models_dir = settings.transcribe.models_dir or default_models_dir()
    if args.models_command == "install":
        path = install_model(args.name, models_dir)
        _out(f"{args.name}: installed in {path}")
        return 0
    models = list_models(models_dir)
    if not models:
        _out(f"no model in {models_dir}: run 'diptych models install base'")
    for m in models:
        _out(str(m))
    return 0


# Commands that process or publish: their settings and the files these name are checked first.
CHECKED_COMMANDS = frozenset({"run", "up", "review", "approve", "publish", "unpublish"})


def cmd_init(args: argparse.Namespace) -> int:
    from pipeline.new_show import create_show

    show = create_show(Path(args.folder))
    _out(f"made the show folder {show.root}: diptych.toml, inbox/ (with its README), output/")
    _out(f"before the first run, fill in {show.config_file}: {', '.join(show.to_fill)}")
    _out(f"and put the show's cover (a square JPEG or PNG, 1400–3000 px) at {show.cover}")
    _out(f"then drop an episode in {show.root / 'inbox'}/ and run: diptych --root {show.root} run")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diptych",
        description="Publish a podcast episode and its article, paired.",
    )
    parser.add_argument("--version", action="version", version=f"diptych {__version__}")
    parser.add_argument("--root", help="the project folder (holding diptych.toml, inbox/, output/)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[..., int], help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(fn=fn)
        return p

    p = sub.add_parser("init", help="make a new show folder (outside diptych's code) to fill in",
                       description="make a new show folder (outside diptych's code) to fill in")
    p.set_defaults(fn=None)
    p.add_argument("folder", nargs="?", default=".", help="the show folder to make (default: here)")
    p = add("run", cmd_run, "claim the drops in inbox/ and take every episode as far as it can go")
    p.add_argument("--approve", action="store_true", help="skip review: publish what is processed")
    p.add_argument("--json", action="store_true", help="machine-readable result")
    p = add("status", cmd_status, "one row per episode: state, duration, language, last change, error")
    p.add_argument("--json", action="store_true", help="machine-readable rows")
    p = add("review", cmd_review, "serve the review page on 127.0.0.1 (or export/import a transcript)")
    p.add_argument("slug", nargs="?", help="open this episode")
    p.add_argument("--port", type=int, help="port (default: review.port, 8765)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--export", metavar="FILE", help="write the transcript as text with [mm:ss] marks")
    p.add_argument("--import", dest="import_file", metavar="FILE", help="read an edited export back")
    p = add("up", cmd_up, "keep running: a local Prefect server and UI, the inbox watched, the review page served")
    p.add_argument("--prefect-port", type=int, metavar="N",
                   help="Prefect server and UI (default: up.prefect_port, 4200)")
    p.add_argument("--review-port", type=int, metavar="N", help="review page (default: review.port, 8765)")
    p.add_argument("--database", metavar="URL",
                   help="the server on PostgreSQL (postgresql+asyncpg://USER@HOST:PORT/DB; password in PGPASSWORD "
                        "or ~/.pgpass), the deployments on work pools (default: up.database)")
    add_publish_commands(add)
    p = add("models", cmd_models, "speech models for offline use")
    msub = p.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    mi = msub.add_parser("install", help="make a Whisper model available offline")
    mi.add_argument("name", nargs="?", default="base")
    msub.add_parser("list", help="the installed models")
    add_pool_commands(add)
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
    from flows.logs import TerminalFilter

    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)  # also for Prefect's loggers, whose records reach it with levels of their own
        handler.addFilter(TerminalFilter())  # an expected failure: the command prints its one line itself
    if args.verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "DEBUG")  # and Prefect keeps every traceback
    # Every HTTP call to Prefect's local API is logged at INFO by httpx: noise for a creator.
    logging.getLogger("httpx").setLevel(logging.WARNING)


# The commands that write under output/: checked before they start (a read-only folder is one line).
WRITERS = frozenset({"run", "up", "review", "approve", "reject", "publish", "unpublish"})


def _prepare_output(project: ProjectLayout) -> None:
    """Before a command writes: output/ and the folders in it can be written, and the temporary
    files that a killed write left (state.json's, say) are gone."""
    from pipeline.store import remove_stale_temp_files, require_writable

    for folder in (project.output, project.episodes_dir, project.site_dir, project.data_dir):
        if folder.is_dir() or folder == project.output:
            require_writable(folder)
    for path in remove_stale_temp_files(project.output):
        log.info("removed %s, left by a write that was interrupted", path)


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """SIGTERM ends the command as an exit does: what it started is stopped on the way out."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    _setup_logging(args)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if args.command == "init":
            raise SystemExit(cmd_init(args))
        project = ProjectLayout(root=find_root(args.root))
        settings = load_settings(project.config_file)
        if args.command in CHECKED_COMMANDS:
            check_show_settings(settings, project.root)
        if args.command in WRITERS:
            _prepare_output(project)
        code = args.fn(args, project, settings)
    except DiptychError as exc:
        sys.stderr.write(f"diptych: error: {exc}\n")
        code = 1
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM) or args.verbose:
            raise
        sys.stderr.write(f"diptych: error: cannot write {exc.filename or 'a file'} ({exc.strerror}): "
                         "make that folder writable, then run the command again\n")
        code = 1
    except KeyboardInterrupt:
        sys.stderr.write("diptych: interrupted\n")
        code = 130
    raise SystemExit(code)


if __name__ == "__main__":
    main()
