"""Measure the edit -> full result loop, embedded and in containers (`make bench-loop`).

Embedded (kfp.local's subprocess runner), on the sample data:
1. uncached: `make run NO_CACHE=1` (every step runs) - the embedded baseline;
2. no change: `make run` (steps served from the cache; which ran is printed);
3. a one-line change to one step's library module (steps/recommend.py): `make run`.
In containers (kfp.local's Docker runner):
4. cold (unless --skip-cold): every burger-recs image and the build cache removed, then
   `make images` and `make run-docker`;
5. uncached: `make images && make run-docker NO_CACHE=1` - the container baseline;
6. no change, and 7. the same one-line change: `make images && make run-docker`, recording
   which images were rebuilt. The change is reverted afterwards.
Prints a Markdown table with each time, its ratio to the uncached run of its kind and the
tasks that ran (the others came from the cache).
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


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def executed(output: str) -> list[str]:
    """Return the tasks a run's console output says were executed (not served from cache)."""
    return re.findall(r"Executing task '([^']+)'", _ANSI.sub("", output))


def edited(loop: str) -> tuple[float, str]:
    """Time ``loop`` after a one-line change to steps/recommend.py; revert the change.

    Each change is new (it names the time), so that no earlier measurement's cache entry
    for the changed code can serve it: the embedded and the container runs of the same code
    share cache entries, as they run the same image tags.
    """
    original = EDITED.read_text()
    try:
        EDITED.write_text(original + f"\n# benchmark edit {time.time_ns()}\n")
        return timed(loop)
    finally:
        EDITED.write_text(original)


def main() -> int:
    """Run the measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cold", action="store_true", help="no cold image build")
    parser.add_argument(
        "--skip-containers", action="store_true", help="measure the embedded loop only"
    )
    parser.add_argument(
        "--customers",
        type=int,
        default=0,
        help="run on a generated shop of this many customers (default: make run's sample, 2,000)",
    )
    args = parser.parse_args()
    extra = os.environ.get("EXTRA_CA_BUNDLE", "")
    images = f"make images{' EXTRA_CA_BUNDLE=' + extra if extra else ''}"
    data = ""
    if args.customers:
        shop = REPO / ".local" / "bench-loop" / str(args.customers)
        if not shop.is_dir():
            timed(f".venv/bin/burger-recs generate-data --out {shop} --customers {args.customers}")
        data = f" DATA={shop}"
    rows: list[tuple[str, float, float, str, str]] = []

    def measure(
        name: str, command: str, baseline: float | None, run: bool = True, edit: bool = False
    ) -> float:
        seconds, out = edited(command) if edit else timed(command)
        ran = ", ".join(executed(out)) if run else "-"
        built = ", ".join(rebuilt(out)) or "none" if command.startswith("make images") else "-"
        rows.append((name, seconds, seconds / (baseline or seconds), ran, built))
        return seconds

    run = f"make run{data}"
    # Warm-up: venv, data, page cache, and the cache filled; twice, because the first run's
    # model becomes the champion, which the second run's evaluate and recommend take.
    timed(run)
    timed(run)
    embedded = measure("embedded, uncached: `make run NO_CACHE=1`", f"{run} NO_CACHE=1", None)
    measure("embedded, no change: `make run`", run, embedded)
    measure("embedded, one-line edit of steps/recommend.py: `make run`", run, embedded, edit=True)
    if not args.skip_containers:
        if not args.skip_cold:
            remove_images()
            measure("cold: `make images`", images, None, run=False)
            measure("cold: then `make run-docker`", f"make run-docker{data}", None)
        loop = f"{images} && make run-docker{data}"
        containers = measure(
            "containers, uncached: `make images && make run-docker NO_CACHE=1`",
            f"{loop} NO_CACHE=1",
            None,
        )
        measure("containers, no change: same, cached", loop, containers)
        measure("one-line edit of steps/recommend.py: same, cached", loop, containers, edit=True)
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"data: {args.customers or 2000:,} customers\n")
    print("| measurement | seconds | x uncached | tasks that ran | images rebuilt |")
    print("|---|---:|---:|---|---|")
    for name, seconds, ratio, ran, built in rows:
        print(f"| {name} | {seconds:.1f} | {ratio:.2f} | {ran} | {built} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
