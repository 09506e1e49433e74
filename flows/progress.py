"""A one-line progress bar for long work: percent of the audio done and the time left."""

from __future__ import annotations

import time
from typing import TextIO


class TerminalProgress:
    def __init__(self, label: str, *, stream: TextIO, width: int = 30) -> None:
        self.label = label
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()
        self._last_draw = 0.0
        self._last_percent = -1

    def update(self, done: float, eta_s: float | None) -> None:
        done = min(max(done, 0.0), 1.0)
        percent = int(done * 100)
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw < 0.2 and done < 1.0:
                return
            filled = int(self.width * done)
            eta = f" ETA {int(eta_s) // 60}:{int(eta_s) % 60:02d}" if eta_s is not None else ""
            bar = "█" * filled + "·" * (self.width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {percent:3d} %{eta}   ")
        elif percent // 25 > self._last_percent // 25:
            # Not a terminal (a log file): a line at every quarter.
            self.stream.write(f"{self.label}: {percent} %\n")
        self._last_percent = percent
        self._last_draw = now
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
