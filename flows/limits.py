"""Transcriptions at once on this machine: a Prefect global concurrency limit, no longer file locks.

`diptych run` and `diptych up` transcribe in their own processes: the limit named for this machine
(`diptych-transcribe-<host>`, [transcribe] max_concurrent slots) holds across all of them that use
the same Prefect server. On the work pools the machine's limit is its speech worker's `--limit`
(Prefect's worker limit) and the pool's limit caps all machines: no slot is taken here then.
A slot is a lease that Prefect renews: a process killed outright frees it when the lease ends.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from prefect.client.orchestration import get_client
from prefect.concurrency.sync import concurrency

from pipeline.config import Settings


def machine_limit_name() -> str:
    return f"diptych-transcribe-{socket.gethostname().lower()}"


@contextmanager
def transcription_slot(settings: Settings, *, limited: bool) -> Iterator[None]:
    """Hold one of this machine's transcription slots (waiting for one), unless `limited` is off."""
    if not limited:
        yield
        return
    name = machine_limit_name()
    with get_client(sync_client=True) as client:
        client.upsert_global_concurrency_limit_by_name(name, settings.transcribe.max_concurrent)
    with concurrency(name, occupy=1, strict=True):
        yield
