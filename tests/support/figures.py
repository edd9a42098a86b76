"""Figures the reliability tests measure, printed at the end of the pytest run.

Tests add to :data:`FIGURES`; ``tests/reliability/conftest.py`` prints them, with the count of
bad-input cases the compiled pipeline rejected, as the "reliability figures" section of the
run's summary. docs/reliability.md quotes the section of the last run of::

    .venv/bin/python -m pytest -q tests/reliability tests/pipelines/test_bad_inputs.py
"""

from __future__ import annotations

from collections import Counter, defaultdict

# figure group (e.g. "crash sqlite") -> counter of named figures
FIGURES: dict[str, Counter] = defaultdict(Counter)

BAD_INPUT_TEST = "tests/pipelines/test_bad_inputs.py::test_broken_drop_fails_at_validate"


def add(group: str, **counts: int) -> None:
    """Add counts to a group of figures."""
    FIGURES[group].update(counts)


def render(passed_nodeids: list[str], failed_nodeids: list[str]) -> list[str]:
    """Return the summary lines (none when no reliability figure was measured)."""
    lines = []
    for group in sorted(FIGURES):
        figures = ", ".join(f"{name} {value}" for name, value in FIGURES[group].items())
        lines.append(f"{group}: {figures}")
    rejected = sum(nodeid.startswith(BAD_INPUT_TEST) for nodeid in passed_nodeids)
    failed = sum(nodeid.startswith(BAD_INPUT_TEST) for nodeid in failed_nodeids)
    if rejected or failed:
        lines.append(
            f"bad inputs: cases rejected at validate with the database unchanged {rejected}, "
            f"cases that got further or changed the database {failed}"
        )
    if lines:
        lost = sum(c["partial or duplicated"] + c["lost"] for c in FIGURES.values())
        lines.append(f"data lost (partial, duplicated or missing days and reads): {lost}")
    return lines
