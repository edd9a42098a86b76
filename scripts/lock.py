"""Rewrite the lock files from the packages installed in the venv (`make lock`).

requirements.lock holds the runtime set (what requirements.in resolves to, plus the build
tools lightfm needs): the venv and every image install exactly these versions.
requirements-dev.lock holds the rest of the venv (test and lint tools), which never
reaches an image, so changing a dev tool rebuilds no image.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD_TOOLS = {"pip", "setuptools", "wheel", "cython"}
HEADER = "# {what}\n# Used as a pip constraints file (-c). Regenerate with: make lock\n"


def _name(line: str) -> str:
    return line.split("==")[0].strip().lower().replace("_", "-")


def main() -> int:
    """Split `pip freeze` into the runtime and the development lock files."""
    freeze = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all", "--exclude-editable"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    pins = sorted((line for line in freeze if "==" in line), key=str.lower)
    with tempfile.TemporaryDirectory() as tmp:
        report, constraints = Path(tmp) / "report.json", Path(tmp) / "pins.txt"
        constraints.write_text("\n".join(pins) + "\n")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--ignore-installed",
                "-q",
                "--no-build-isolation",
                "--report",
                str(report),
                "-c",
                str(constraints),
                "-r",
                str(REPO / "requirements.in"),
            ],
            check=True,
        )
        runtime = {_name(i["metadata"]["name"]) for i in json.loads(report.read_text())["install"]}
    runtime |= BUILD_TOOLS
    run = [p for p in pins if _name(p) in runtime and _name(p) != "burger-recs"]
    dev = [p for p in pins if _name(p) not in runtime and _name(p) != "burger-recs"]
    what = "Exact versions of the runtime packages: the venv and every step image install these."
    (REPO / "requirements.lock").write_text(HEADER.format(what=what) + "\n".join(run) + "\n")
    what = "Exact versions of the development tools (tests, linters); never in an image."
    (REPO / "requirements-dev.lock").write_text(HEADER.format(what=what) + "\n".join(dev) + "\n")
    print(f"wrote requirements.lock ({len(run)} packages), requirements-dev.lock ({len(dev)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
