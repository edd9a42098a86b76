"""The MovieLens report: burger-recs quality, make quality."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from burger_recs import movielens
from burger_recs.quality.protocol import (
    AUC_TOLERANCE,
    PRECISION_TOLERANCE,
    PROTOCOL_PARAMS,
    ProtocolRow,
    protocol_rows,
)
from burger_recs.quality.tables import (
    protocol_table,
    temporal_table,
)
from burger_recs.quality.temporal import (
    TemporalRow,
    run_dates,
    temporal_rows,
)
from burger_recs.settings import RunSettings


# ---------------------------------------------------------------------------------------------
# The MovieLens report (`burger-recs quality`, `make quality`)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QualityReport:
    """Everything ``burger-recs quality`` measured.

    Attributes:
        protocol: the documentation's protocol, per scorer and test ranking.
        temporal: the pipeline's temporal evaluation, per run date.
        settings: the daily-run settings of the temporal evaluation.
        seeds: the training seeds.
        epochs: the protocol's epochs.
        min_rating: the import's order threshold.
        summary: what the import wrote.
    """

    protocol: list[ProtocolRow]
    temporal: list[TemporalRow]
    settings: RunSettings
    seeds: list[int]
    epochs: int
    min_rating: int
    summary: movielens.ImportSummary

    def render(self) -> str:
        """Return the report as Markdown-flavoured text: two tables and what they mean."""
        p, s = self.settings.train, self.settings
        seeds = f"mean ±sd over {len(self.seeds)} seeds" if len(self.seeds) > 1 else "one seed"
        mismatched = [r for r in self.protocol if r.within_tolerance() is False]
        lines = [
            "## LightFM documentation protocol on MovieLens 100k (ua.base -> ua.test)",
            "",
            f"Pipeline code (train.fit, evaluate.ranking_scores), every rating positive, "
            f"{PROTOCOL_PARAMS.no_components} components, learning rate "
            f"{PROTOCOL_PARAMS.learning_rate:g}, {self.epochs} epochs; {seeds}. Tolerance "
            f"{PRECISION_TOLERANCE} (p@10), {AUC_TOLERANCE} (AUC).",
            "",
            protocol_table(self.protocol),
            "",
            "- `ids`: item identities only, as in the documentation; `ids+genres`: genres as "
            "ingredients, as the pipeline trains on imported MovieLens.",
            "- `popularity`: the pipeline's baseline (order counts); `popularity (rating "
            "sums)`: items ranked by their sum of ratings, the values of LightFM's "
            "fetch_movielens train matrix.",
        ]
        if mismatched:
            lines.append(
                "- outside tolerance: "
                + ", ".join(
                    f"{r.scorer}{'' if r.features == '-' else ' ' + r.features} "
                    f"({'train excluded' if r.exclude_train else 'all items'})"
                    for r in mismatched
                )
                + " (docs/model-quality.md explains the popularity reference)."
            )
        lines += [
            "",
            f"## The pipeline's temporal evaluation on the imported daily drops "
            f"({self.summary.first_date}..{self.summary.last_date})",
            "",
            f"Ratings >= {self.min_rating} as orders ({self.summary.orders:,}). Pipeline "
            f"defaults: {p.loss}, {p.epochs} epochs, {p.no_components} components, learning "
            f"rate {p.learning_rate:g}, identity weight {p.identity_weight:g}, recency "
            f"half-life {p.recency_half_life:g}, cold-start blend {p.cold_start_blend:g} "
            f"(popularity half-life {p.popularity_half_life:g}); window {s.window_days} "
            f"days, holdout "
            f"{s.holdout_days} days, k {s.k}, exclude_ordered {str(s.exclude_ordered).lower()}, "
            f"quality margin {s.quality_margin:g}; {len(self.seeds)} seed(s) per run date.",
            "",
            temporal_table(self.temporal, self.settings),
            "",
            "- customers (new): customers who ordered in the holdout (of them, without an "
            "order in the window before it: served by the cold start).",
            "- gate passed: share of seeds whose model reached the baseline x "
            f"(1 + {s.quality_margin:g}); `excl.`: evaluated with exclude_ordered.",
        ]
        return "\n".join(lines) + "\n"


def movielens_report(
    folder: str | Path,
    settings: RunSettings,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    epochs: int = PROTOCOL_PARAMS.epochs,
    run_date_count: int = 6,
    every_days: int = 28,
    min_rating: int = 1,
    work_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> QualityReport:
    """Measure the protocol and the temporal evaluation on MovieLens 100k in ``folder``.

    Args:
        folder: the MovieLens 100k folder.
        settings: the daily-run settings (the pipeline's defaults).
        seeds: training seeds of both measurements.
        epochs: the protocol's epochs (10; fewer for a quick check).
        run_date_count: how many run dates the temporal evaluation covers.
        every_days: days between run dates, counted back from the last day.
        min_rating: the import's order threshold.
        work_dir: where to import the daily drops (default: a temporary folder, removed).
        progress: called with short progress messages.
    """
    import tempfile

    ml = movielens.read_movielens(folder)
    protocol = protocol_rows(ml, seeds, epochs, progress=progress)
    with tempfile.TemporaryDirectory(prefix="movielens-drops-") as tmp:
        root = Path(work_dir) if work_dir else Path(tmp)
        summary = movielens.import_movielens(folder, root, min_rating, force=True)
        dates = run_dates(
            summary.first_date, summary.last_date, run_date_count, every_days, settings.window_days
        )
        temporal = temporal_rows(str(root), dates, settings, seeds, progress)
    return QualityReport(protocol, temporal, settings, list(seeds), epochs, min_rating, summary)
