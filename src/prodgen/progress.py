"""The one progress display of prodgen: a bar with ETA on a terminal, plain lines elsewhere.

Output goes to ``console`` (default: a rich console on stderr). On a terminal
(the console's ``is_terminal``) it is a rich progress bar with
elapsed time and ETA. When the output is not a terminal (CI, log files, nohup,
``make demo`` piped into a file) a rich bar prints nothing until it ends, so this
helper prints a plain line instead, on the first update, then at most every
``interval_s`` seconds, and once at the end::

    train: step 120/1000 (12.0%) elapsed 0:01:03 ETA 0:07:42 g=0.712 d=1.204

Use::

    with progress_bar("preprocess", total=len(records), console=console, enabled=progress) as bar:
        for r in records:
            ...
            bar.update(advance=1)

``update(completed=..., fraction=..., info=...)``: ``completed`` counts units
(steps, images), ``fraction`` (0..1) overrides ``completed / total`` when the
budget is not a count (a minutes budget), ``info`` is a short free text (losses).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

PLAIN_INTERVAL_S = 10.0


def format_seconds(s: float | None) -> str:
    if s is None or s != s or s < 0:
        return "-:--:--"
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class ProgressBar:
    """A progress display; see the module docstring. Use as a context manager."""

    def __init__(self, label: str, total: float | None = None, *, unit: str = "", console: Console | None = None,
                 enabled: bool = True, transient: bool = False, interval_s: float = PLAIN_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.enabled = enabled
        self.console = console if console is not None else _default_console()
        self.tty = bool(self.console.is_terminal)
        self.interval_s = interval_s
        self.clock = clock
        self.completed = 0.0
        self.fraction: float | None = 0.0 if total else None
        self.info = ""
        self._t0 = clock()
        self._last_print: float | None = None
        self._printed_state: tuple | None = None
        self._rich: Progress | None = None
        self._task = None
        self._rich_total: float | None = None
        if enabled and self.tty:
            self._rich = Progress(
                TextColumn(f"[bold]{_escape(label)}"), BarColumn(), TextColumn("{task.fields[count]}"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                console=self.console, transient=transient,
            )

    # -- context -------------------------------------------------------------
    def __enter__(self) -> ProgressBar:
        self._t0 = self.clock()
        if self._rich is not None:
            self._rich.__enter__()
            self._rich_total = 1.0 if self.fraction is not None else None
            self._task = self._rich.add_task(self.label, total=self._rich_total, count=self._count_text(), info="")
        return self

    def __exit__(self, *exc) -> None:
        if self._rich is not None:
            self._rich.__exit__(*exc)
        elif self.enabled and self._last_print is not None and self._printed_state != self._state():
            self._print_line()  # the final state, unless that very line was just printed

    # -- updates -------------------------------------------------------------
    def update(self, completed: float | None = None, *, advance: float = 0, fraction: float | None = None,
               info: str | None = None) -> None:
        if completed is not None:
            self.completed = completed
        self.completed += advance
        if fraction is not None:
            self.fraction = min(max(float(fraction), 0.0), 1.0)
        elif self.total:
            self.fraction = min(self.completed / self.total, 1.0)
        if info is not None:
            self.info = info
        if not self.enabled:
            return
        if self._rich is not None:
            if self._task is not None:
                kw = {"completed": self.fraction} if self.fraction is not None else {}
                if self.fraction is not None and self._rich_total is None:
                    kw["total"] = self._rich_total = 1.0
                self._rich.update(self._task, count=self._count_text(), info=_escape(self.info), **kw)
            return
        now = self.clock()
        if self._last_print is None or now - self._last_print >= self.interval_s:
            self._print_line(now)

    def advance(self, n: float = 1) -> None:
        self.update(advance=n)

    # -- plain mode ----------------------------------------------------------
    def line(self, now: float | None = None) -> str:
        """The plain progress line (also what non-terminal output shows)."""
        now = self.clock() if now is None else now
        elapsed = now - self._t0
        parts = [f"{self.label}:", self._count_text()]
        if self.fraction is not None:
            parts.append(f"({100 * self.fraction:.1f}%)")
        parts.append(f"elapsed {format_seconds(elapsed)}")
        if self.fraction is not None:
            eta = elapsed * (1 - self.fraction) / self.fraction if self.fraction > 0 else None
            parts.append(f"ETA {format_seconds(eta)}")
        if self.info:
            parts.append(self.info)
        return " ".join(p for p in parts if p)

    def _print_line(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        self.console.print(self.line(now), markup=False, highlight=False, soft_wrap=True)
        self._last_print = now
        self._printed_state = self._state()

    def _state(self) -> tuple:
        return (self.completed, self.fraction, self.info)

    def _count_text(self) -> str:
        n = int(self.completed) if float(self.completed).is_integer() else round(self.completed, 1)
        unit = f"{self.unit} " if self.unit else ""
        total = self.total
        if total:
            total = int(total) if float(total).is_integer() else total
            return f"{unit}{n}/{total}"
        return f"{unit}{n}"


def progress_bar(label: str, total: float | None = None, *, unit: str = "", console: Console | None = None,
                 enabled: bool = True, transient: bool = False, interval_s: float = PLAIN_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> ProgressBar:
    """A :class:`ProgressBar` (the one way prodgen shows progress)."""
    return ProgressBar(label, total, unit=unit, console=console, enabled=enabled, transient=transient,
                       interval_s=interval_s, clock=clock)


_STDERR: Console | None = None


def _default_console() -> Console:
    """Progress goes to stderr, so stdout stays for results (tables, paths, JSON)."""
    global _STDERR
    if _STDERR is None:
        _STDERR = Console(stderr=True)
    return _STDERR


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


__all__ = ["PLAIN_INTERVAL_S", "ProgressBar", "format_seconds", "progress_bar"]
