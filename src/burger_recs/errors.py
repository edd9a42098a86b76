"""Failures that the input or the settings cause, as opposed to defects in the code.

A step that stops on an :class:`ExpectedFailure` prints its message alone (it says what is
wrong and where); any other exception keeps its traceback in the run log.
"""

from __future__ import annotations


class ExpectedFailure(Exception):
    """The run cannot go on for a reason its message explains in full (no traceback needed)."""


class BadSettings(ExpectedFailure, ValueError):
    """A run parameter is out of its range or of the wrong form; the message names it."""
