"""Logging set-up shared by the CLI and the pipeline steps."""

from __future__ import annotations

import logging
import sys


def configure(level: int = logging.INFO) -> None:
    """Send burger_recs log lines to stderr with a timestamp (idempotent)."""
    logger = logging.getLogger("burger_recs")
    if not any(getattr(h, "_burger_recs", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        handler._burger_recs = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)
