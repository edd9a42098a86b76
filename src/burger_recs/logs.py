"""Logging set-up shared by the CLI and the pipeline steps."""

from __future__ import annotations

import collections
import logging
import os
import sys

# Set in every step image at build time (see images/); absent when a step runs embedded.
IMAGE_ENV = "BURGER_RECS_IMAGE"


def configure(step: str | None = None, level: int = logging.INFO) -> None:
    """Send burger_recs log lines to stderr with a timestamp (idempotent).

    With ``step``, also log which code and which image the step runs, so that every run's
    log shows where each step ran.
    """
    logger = logging.getLogger("burger_recs")
    if not any(getattr(h, "_burger_recs", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        handler._burger_recs = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)
    if step:
        from burger_recs.version import code_version

        image = os.environ.get(IMAGE_ENV) or "none (embedded in this Python environment)"
        logger.info("step %s: code %s, image %s", step, code_version(), image)


# How much of a failed step's log its failure note keeps (burger_recs.runs.noted).
TAIL_LINES = 60
TAIL_CHARS = 16_000


class LogTail(logging.Handler):
    """Keep the last lines the ``burger_recs`` loggers wrote, formatted as the step's log.

    Attached for a step's duration by :func:`burger_recs.runs.noted`, so that a failed step's
    note carries the end of its log: bounded (:data:`TAIL_LINES` lines, :data:`TAIL_CHARS`
    characters), never the whole log.
    """

    def __init__(self, lines: int = TAIL_LINES) -> None:
        super().__init__()
        self.lines: collections.deque[str] = collections.deque(maxlen=lines)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record's formatted lines."""
        try:
            self.lines.extend(self.format(record).splitlines())
        except Exception:  # a log line must never fail the step
            self.handleError(record)

    def text(self, extra: str = "") -> str:
        """Return the kept lines and ``extra`` (a traceback), at most TAIL_CHARS from the end."""
        text = "\n".join([*self.lines, *extra.rstrip().splitlines()])
        return text[-TAIL_CHARS:]
