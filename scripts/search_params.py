"""Choose the burger pipeline's hyper-parameter defaults from evidence (docs/model-quality.md).

1. Generate a shop (burger_recs.generate) whose last day is D.
2. Search: read the window that ends at D - holdout (ingest + validate, as a daily run does),
   fit every candidate on it without its last `holdout` days and score it on them (the
   validation week). Nothing after D - holdout is read.
3. Final: the best candidate and the current defaults, on the window ending at D, so on the
   final holdout week the search never saw, with more seeds; also on a second generated shop
   (another data seed) that the search never saw either.

Prints Markdown tables (progress goes to stderr).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path
from typing import TypedDict

from burger_recs import quality
from burger_recs.generate import generate_data
from burger_recs.settings import DEFAULTS, RunSettings
from burger_recs.validated import ValidatedData


class Grid(TypedDict):
    """The values that quality.grid combines into candidates."""

    losses: tuple[str, ...]
    epochs: tuple[int, ...]
    components: tuple[int, ...]
    learning_rates: tuple[float, ...]


END = dt.date(2026, 11, 24)
FULL_GRID: Grid = {
    "losses": ("warp", "bpr", "warp-kos"),
    "epochs": (10, 30, 60),
    "components": (8, 16, 32, 64),
    "learning_rates": (0.02, 0.05, 0.1),
}


class ServingGrid(TypedDict):
    """The values that quality.serving_grid combines into candidates."""

    identity_weights: tuple[float, ...]
    recency_half_lives: tuple[float, ...]
    repeats: tuple[bool, ...]
    cold_start_blends: tuple[float, ...]
    popularity_half_lives: tuple[float, ...]


SERVING_GRID: ServingGrid = {
    "identity_weights": (0.0, 0.6),
    "recency_half_lives": (0.0, 14.0),
    "repeats": (False, True),
    "cold_start_blends": (0.0, 0.5, 1.0),
    "popularity_half_lives": (0.0, 7.0),
}
QUICK_GRID: Grid = {
    "losses": ("warp", "bpr"),
    "epochs": (10, 30),
    "components": (16, 32),
    "learning_rates": (0.05,),
}


def load(root: Path, day: dt.date, settings: RunSettings) -> ValidatedData:
    """Read the window ending at ``day`` with the pipeline's ingest and validate code."""
    data = quality.load_window(str(root), day, settings.window_days)
    assert data.orders["day"].max() <= day.isoformat(), "read past the run date"
    return data


def main() -> int:
    """Run the search and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--data-seed", type=int, default=42, help="the searched shop")
    parser.add_argument("--check-data-seed", type=int, default=7, help="the unseen shop")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per candidate")
    parser.add_argument("--final-seeds", type=int, default=5, help="seeds of the final check")
    parser.add_argument("--top", type=int, default=15, help="search rows to print")
    parser.add_argument("--quick", action="store_true", help="a small grid (smoke test)")
    parser.add_argument(
        "--serving",
        action="store_true",
        help="search how orders weigh and new customers are served (identity weight, "
        "recency and repeat weights, cold-start blend) with the LightFM defaults",
    )
    args = parser.parse_args()

    settings = DEFAULTS
    days = settings.window_days + settings.holdout_days  # two full windows end D-7 and D
    validation_day = END - dt.timedelta(days=settings.holdout_days)
    spec = QUICK_GRID if args.quick else FULL_GRID
    if args.serving:
        candidates = quality.serving_grid(settings.train, **SERVING_GRID)
    else:
        candidates = quality.grid(**spec, base=settings.train)
    defaults = quality.Candidate(settings.train)
    if defaults not in candidates:
        candidates.append(defaults)
    seeds = range(args.seeds)
    final_seeds = range(100, 100 + args.final_seeds)  # other seeds than the search's
    started = time.monotonic()

    def note(message: str) -> None:
        print(f"  [{time.monotonic() - started:6.0f}s] {message}", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="burger-search-") as tmp:
        shops = {}
        for name, seed in (("searched", args.data_seed), ("unseen", args.check_data_seed)):
            shops[name] = Path(tmp) / name
            generate_data(
                shops[name], customers=args.customers, days=days, seed=seed, end_date=END,
                items=args.items,
            )  # fmt: skip
        validation = load(shops["searched"], validation_day, settings)
        results = quality.search(
            validation,
            candidates,
            seeds,
            settings.holdout_days,
            settings.k,
            progress=note,
        )
        chosen = results[0].candidate
        rank_of = {r.candidate: n for n, r in enumerate(results, 1)}
        shown = results[: args.top]
        if defaults not in [r.candidate for r in shown]:
            shown = [*shown, results[rank_of[defaults] - 1]]

        final_rows = []
        for shop, day, label in (
            ("searched", END, "final week (unseen)"),
            ("unseen", validation_day, "other shop, validation week"),
            ("unseen", END, "other shop, final week"),
        ):
            data = load(shops[shop], day, settings)
            for name, candidate in (("chosen", chosen), ("current defaults", defaults)):
                r = quality.score_candidate(
                    data, candidate, final_seeds, settings.holdout_days, settings.k
                )
                final_rows.append((label, name, r))
            note(f"final: {label}")

    p = settings.train
    print(
        f"## Search on the validation week ({validation_day - dt.timedelta(days=6)}.."
        f"{validation_day}) of a generated shop\n\n"
        f"generate_data(customers={args.customers}, items={args.items}, days={days}, "
        f"seed={args.data_seed}, end_date={END}); window {settings.window_days} days, holdout "
        f"{settings.holdout_days}, k {settings.k}, exclude_ordered "
        f"{str(settings.exclude_ordered).lower()}; item_alpha {p.item_alpha:g}, user_alpha "
        f"{p.user_alpha:g}; {len(candidates)} candidates x {args.seeds} seeds, ranked by mean "
        f"precision@{settings.k} (then AUC); the top {args.top} and the current defaults:\n"
    )
    print(quality.search_table([(rank_of[r.candidate], r) for r in shown], settings.k) + "\n")
    print(
        "Each setting's effect: the mean and the best precision over the candidates that "
        "share its value:\n"
    )
    print(quality.marginal_table(results, settings.k) + "\n")
    print(
        f"## Chosen ({chosen.label()}) against the current defaults ({defaults.label()}), "
        f"{args.final_seeds} new seeds\n"
    )
    print(quality.comparison_table(final_rows, settings.k) + "\n")
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
