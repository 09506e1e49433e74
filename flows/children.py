"""Processes diptych starts (a Prefect server, say) never outlive the command that started them.

Two locks on the door: on Linux the child gets SIGTERM from the kernel when the command dies,
however it dies (prctl PR_SET_PDEATHSIG, set in the child before exec); and each child is noted
in a small record (pid, its start time, the command's pid) under the project, so that the next
command finds one an earlier crash left behind on a system without that signal and stops it.

The kernel sends that signal when the *thread* that forked the child ends, not the process: the
child is forked from a thread kept for the command's lifetime, so a server started from a
short-lived worker thread (an approval on the review page) is not stopped when that thread ends.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the forking thread (so the command) ends."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _start_ticks(pid: int) -> int | None:
    """The process's start time (clock ticks since boot): a pid reused by another process differs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state != "Z"


def _spawn_in_keeper(command: Sequence[str], *, env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Fork from a daemon thread that lives until the command exits (see the module's doc)."""
    started: list[subprocess.Popen[bytes] | BaseException] = []
    ready = threading.Event()

    def keep() -> None:
        try:
            with open(log_path, "ab") as log_file:
                started.append(subprocess.Popen(
                    list(command), stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                    env=dict(env), start_new_session=True,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                ))
        except BaseException as exc:  # handed to the caller's thread
            started.append(exc)
        ready.set()
        threading.Event().wait()  # this thread's end would be the child's SIGTERM: never end

    threading.Thread(target=keep, name="diptych-child-keeper", daemon=True).start()
    ready.wait()
    if isinstance(started[0], BaseException):
        raise started[0]
    return started[0]


class OwnedProcess:
    """A child of this command, in a process group of its own, noted under `records`."""

    def __init__(self, command: Sequence[str], *, env: Mapping[str, str], log_path: Path, records: Path) -> None:
        records.mkdir(parents=True, exist_ok=True)
        log_path.write_bytes(b"")
        self.process = _spawn_in_keeper(command, env=env, log_path=log_path)
        self.record = records / f"{self.process.pid}.json"
        note = {"pid": self.process.pid, "start_ticks": _start_ticks(self.process.pid),
                "owner": os.getpid(), "owner_ticks": _start_ticks(os.getpid()), "command": list(command)}
        self.record.write_text(json.dumps(note) + "\n", encoding="utf-8")

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    def stop(self, *, timeout_s: float = 20.0) -> None:
        """SIGTERM to its group, SIGKILL after `timeout_s`; then its record goes."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.record.unlink(missing_ok=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def stop_leftovers(records: Path, *, timeout_s: float = 15.0) -> list[int]:
    """Stop the children noted under `records` whose command has died; the pids stopped."""
    stopped = []
    for path in sorted(records.glob("*.json")) if records.is_dir() else []:
        try:
            note = json.loads(path.read_text(encoding="utf-8"))
            pid, owner = int(note["pid"]), int(note["owner"])
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if owner != os.getpid() and _same_process(owner, note.get("owner_ticks")):
            continue  # its command still runs: not a leftover
        if _same_process(pid, note.get("start_ticks")):
            log.info("stopping pid %d, left running by an earlier command that did not stop", pid)
            _stop_pid(pid, timeout_s)
            stopped.append(pid)
        path.unlink(missing_ok=True)
    return stopped


def _same_process(pid: int, ticks: int | None) -> bool:
    """Alive, and not another process that was given the same pid since."""
    return is_alive(pid) and (ticks is None or _start_ticks(pid) == ticks)


def _stop_pid(pid: int, timeout_s: float) -> None:
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if is_alive(pid):
        _signal_group(pid, signal.SIGKILL)
