"""Expected failures read as one line, in the terminal and in Prefect's log.

A DiptychError is a message for the creator (a recording that cannot be decoded, a setting to
fix), not a bug: Prefect's engine logs it with a traceback, twice per level of nesting. Here its
records lose the traceback, and the engine's repeat of it ("Encountered exception during
execution", "Task run failed with exception") is dropped: each run's "Finished in state
Failed('… AudioDecodeError: …')" line stays. Any other exception keeps its traceback (a bug), and
with -v (Prefect's level DEBUG) everything is kept.
"""

from __future__ import annotations

import logging
import re
import sys
from functools import cache

from pipeline.errors import DiptychError


def out(text: str = "") -> None:
    """A line of a command's output, on standard output."""
    sys.stdout.write(text + "\n")


RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
REPEATS = ("Encountered exception during execution", "Task run failed with exception")


@cache
def _expected_names() -> re.Pattern[str]:
    names, todo = set(), [DiptychError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return re.compile(rf"\b(?:{'|'.join(sorted(names))})\b[:(']")


def is_expected(exc: BaseException | None) -> bool:
    return isinstance(exc, DiptychError)


def mentions_expected(record: logging.LogRecord) -> bool:
    """The record reports a DiptychError: as its exception, or by name in its message."""
    if record.exc_info and is_expected(record.exc_info[1]):
        return True
    return bool(_expected_names().search(record.getMessage()))


def _verbose() -> bool:
    return logging.getLogger("prefect").isEnabledFor(logging.DEBUG)


class ExpectedFailureFilter(logging.Filter):
    """On Prefect's run loggers: an expected failure keeps one line and loses its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _verbose() or not (record.exc_info and is_expected(record.exc_info[1])):
            return True
        if str(record.msg).startswith(REPEATS):
            return False
        record.exc_info, record.exc_text = None, None
        return True


class TerminalFilter(logging.Filter):
    """On the command's own stderr handler: Prefect's lines about an expected failure are dropped,
    as the command prints that failure itself, once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _verbose() or not (record.name.startswith("prefect") and mentions_expected(record))


def quiet_expected_failures() -> None:
    """Install the filter on Prefect's run loggers (once; call after importing prefect)."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ExpectedFailureFilter) for f in logger.filters):
            logger.addFilter(ExpectedFailureFilter())
