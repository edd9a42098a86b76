"""Debian's chromium, headless, for the tests that load a page in a real browser.

The tests marked ``browser`` load the project's pages from file:// with no network, in a
profile of their own, and read back the DOM (``--dump-dom``), a screenshot or the console.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",  # as root, and in containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)
"""Every load's flags: headless, no sandbox, no network of its own, console on stderr."""


def chromium() -> str:
    """Return the chromium to run; skip the test without one, but fail it on CI."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail(
            "chromium is missing: the browser test needs Debian's chromium "
            "(.ci/run installs it as root: apt-get install -y chromium)"
        )
    pytest.skip("no chromium here (apt-get install -y chromium); CI runs this test")


def run_chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless chromium with :data:`FLAGS`, ``args`` and its own profile folder."""
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def console_lines(stderr: str) -> list[str]:
    """Return the console messages of a run's stderr (``--enable-logging=stderr``).

    They read ``[...:INFO:CONSOLE:12] "message", source: ...``. The project's pages have no
    script, and their Content-Security-Policy makes any load of anything an error on the
    console, so any console line is a fault.
    """
    return [line for line in stderr.splitlines() if "CONSOLE" in line]
