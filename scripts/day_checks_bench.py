"""False alarms and detections of the day checks (burger_recs.day_checks) on generated shops.

For each seed, a generated shop of CUSTOMERS customers over DAYS days; every day with enough
history before it (``min_history``) is checked as it was generated (a normal day: any
verdict but ``normal`` is a false alarm, a ``warned`` one counted apart), then as each broken
case below, made from that day's own orders:

- ``tenth``: a tenth of the day's orders (an export cut short): must stop;
- ``one-item``: every order of the day for one item (a join gone wrong): must stop;
- ``spike x3``: the day's orders three times over (a promotion): must warn, not stop;
- ``three quarters``: three quarters of the day's orders (a normal dip): must pass.

The checks read the window as validate does (``window_days`` days ending at the day). Prints
a table of rates; with ``--write`` also replaces the section between ``<!-- day-checks -->``
markers in docs/reliability.md.

Usage: scripts/day_checks_bench.py [--seeds 1,2,3] [--customers 600] [--days 90] [--write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from burger_recs.day_checks import NORMAL, STOPPED, WARNED, check_day
from burger_recs.generate import generate_data
from burger_recs.settings import DEFAULTS

END = dt.date(2026, 6, 30)
CASES = ("normal", "tenth", "one-item", "spike x3", "three quarters")
WANTED = {
    "normal": NORMAL,
    "tenth": STOPPED,
    "one-item": STOPPED,
    "spike x3": WARNED,
    "three quarters": NORMAL,
}
DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
MARK = "<!-- day-checks -->"


def read_orders(root: Path) -> pd.DataFrame:
    """Every order of a generated shop, with its day (the folder's), as validate types them."""
    frames = []
    for folder in sorted(root.glob("date=*")):
        frame = pd.read_csv(folder / "orders.csv", dtype=str)
        frame["day"] = folder.name.removeprefix("date=")
        frames.append(frame)
    orders = pd.concat(frames, ignore_index=True)
    orders["quantity"] = orders["quantity"].astype(int)
    return orders


def broken(day_orders: pd.DataFrame, case: str, rng: np.random.Generator) -> pd.DataFrame:
    """Return the day's orders as ``case`` breaks them."""
    if case == "tenth":
        return day_orders.sample(frac=0.1, random_state=int(rng.integers(1 << 31)))
    if case == "three quarters":
        return day_orders.sample(frac=0.75, random_state=int(rng.integers(1 << 31)))
    if case == "one-item":
        return day_orders.assign(item_id=day_orders["item_id"].iloc[0])
    if case == "spike x3":
        return pd.concat([day_orders] * 3, ignore_index=True)
    return day_orders


def measure(seeds: list[int], customers: int, days: int) -> dict[str, Counter]:
    """Return, per case, how many checked days ended with each verdict."""
    verdicts: dict[str, Counter] = {case: Counter() for case in CASES}
    window = DEFAULTS.window_days
    for seed in seeds:
        with tempfile.TemporaryDirectory() as folder:
            generate_data(folder, customers=customers, days=days, seed=seed, end_date=END)
            orders = read_orders(Path(folder))
        all_days = sorted(orders["day"].unique())
        rng = np.random.default_rng(seed)
        for index, day in enumerate(all_days):
            if index < DEFAULTS.day_check.min_history:
                continue
            first = all_days[max(0, index - window + 1)]
            past = orders[(orders["day"] >= first) & (orders["day"] < day)]
            today = orders[orders["day"] == day]
            for case in CASES:
                window_orders = pd.concat([past, broken(today, case, rng)], ignore_index=True)
                check = check_day(window_orders, dt.date.fromisoformat(day))
                verdicts[case][check.verdict] += 1
                if check.verdict != WANTED[case]:
                    print(f"  seed {seed} {day} {case}: {check.verdict}: {check.findings}")
        print(f"seed {seed}: {len(all_days) - DEFAULTS.day_check.min_history} days checked")
    return verdicts


def table(verdicts: dict[str, Counter], command: str) -> str:
    """Return the figures as Markdown."""
    lines = [
        f"`{command}`; thresholds: {DEFAULTS.day_check}.",
        "",
        "| case | days | stopped | warned | normal | as wanted |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for case in CASES:
        found = verdicts[case]
        total = sum(found.values())
        right = found[WANTED[case]]
        lines.append(
            f"| {case} (wanted: {WANTED[case]}) | {total} | {found[STOPPED]} | {found[WARNED]} "
            f"| {found[NORMAL]} | {right}/{total} ({right / total:.0%}) |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2,3", help="Comma-separated seeds (default 1,2,3).")
    parser.add_argument("--customers", type=int, default=600, help="Customers per shop.")
    parser.add_argument("--days", type=int, default=90, help="Days per shop.")
    parser.add_argument("--write", action="store_true", help="Write docs/reliability.md.")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    verdicts = measure(seeds, args.customers, args.days)
    command = (
        f".venv/bin/python scripts/day_checks_bench.py --seeds {args.seeds} "
        f"--customers {args.customers} --days {args.days}"
    )
    text = table(verdicts, command)
    print(text)
    if args.write:
        doc = DOC.read_text()
        pattern = re.compile(f"{re.escape(MARK)}.*{re.escape(MARK)}", re.DOTALL)
        if not pattern.search(doc):
            print(f"{DOC}: no {MARK} markers", file=sys.stderr)
            return 1
        DOC.write_text(pattern.sub(lambda _: f"{MARK}\n{text}\n{MARK}", doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
