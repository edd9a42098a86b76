"""Logging set-up shared by the CLI and the pipeline steps."""

from __future__ import annotations

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
