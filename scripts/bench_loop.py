"""Measure the edit -> full result loop in containers (`make bench-loop`).

1. baseline: `make run` (embedded, no containers) on the sample data;
2. cold: every burger-recs image and the build cache removed, then
   `make images && make run-docker`;
3. warm: a one-line change to one step's library module (steps/recommend.py), then
   `make images && make run-docker`, recording which images were rebuilt; the change is
   reverted afterwards.
Prints a Markdown table with the times and their ratio to the embedded baseline.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EDITED = REPO / "src" / "burger_recs" / "steps" / "recommend.py"


def timed(command: str) -> tuple[float, str]:
    """Run a shell command in the repository; return (seconds, output). Fails loudly."""
    started = time.monotonic()
    result = subprocess.run(  # noqa: S602 - this script's own fixed commands
        command, shell=True, cwd=REPO, capture_output=True, text=True, check=False
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"error: `{command}` failed")
    return elapsed, result.stdout


def rebuilt(output: str) -> list[str]:
    """Return the images a `make images` output says it built."""
    return re.findall(r"^\s+(\w+)\s+\S+\s+[\d,]+ MB\s+\(built in", output, flags=re.M)


def remove_images() -> None:
    """Remove every burger-recs image and dangling build layers (the Python base stays)."""
    refs = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    ours = [r for r in refs if "/burger-recs-" in r]
    if ours:
        subprocess.run(["docker", "rmi", "-f", *ours], capture_output=True, check=False)
    subprocess.run(["docker", "image", "prune", "-f"], capture_output=True, check=False)


def main() -> int:
    """Run the three measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cold", action="store_true", help="measure only warm loops")
    args = parser.parse_args()
    extra = os.environ.get("EXTRA_CA_BUNDLE", "")
    images = f"make images{' EXTRA_CA_BUNDLE=' + extra if extra else ''}"
    loop = f"{images} && make run-docker"
    timed("make run")  # warm-up: venv, sample data, page cache
    rows = []
    baseline, _ = timed("make run")
    rows.append(("embedded `make run` (baseline)", baseline, "-"))
    if not args.skip_cold:
        remove_images()
        cold_build, out = timed(images)
        cold_run, _ = timed("make run-docker")
        rows.append(("cold: `make images`", cold_build, ", ".join(rebuilt(out))))
        rows.append(("cold: then `make run-docker`", cold_run, "-"))
    noop, out = timed(loop)
    rows.append(("no change: `make images && make run-docker`", noop, ", ".join(rebuilt(out))
                 or "none"))  # fmt: skip
    original = EDITED.read_text()
    try:
        EDITED.write_text(original + "\n# benchmark edit\n")
        warm, out = timed(loop)
    finally:
        EDITED.write_text(original)
    rows.append(("one-line edit of steps/recommend.py: same", warm, ", ".join(rebuilt(out))))
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print("| measurement | seconds | x embedded | images rebuilt |")
    print("|---|---:|---:|---|")
    for name, seconds, built in rows:
        print(f"| {name} | {seconds:.1f} | {seconds / baseline:.2f} | {built} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
