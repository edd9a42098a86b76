"""Markdown tables of the measurements, as docs/model-quality.md shows them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from burger_recs.quality.protocol import (
    IDS,
    ProtocolRow,
    Reference,
    mean,
    spread,
)
from burger_recs.quality.search import (
    Candidate,
    SearchResult,
)
from burger_recs.quality.temporal import (
    TemporalRow,
)
from burger_recs.settings import DEFAULTS, RunSettings


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Return an aligned Markdown table (numbers right-aligned), readable as plain text."""
    body = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(header)]
    numeric = [all(_is_number(r[i]) for r in body) and bool(body) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (w + 1) + (":" if num else "-") for w, num in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(header), rule, *(line(r) for r in body)])


def _is_number(text: str) -> bool:
    try:
        float(text.split(" ")[0].lstrip("+±"))
    except ValueError:
        return text in ("-", "")
    return True


def _figure(values: Sequence[float], digits: int = 3) -> str:
    if len(values) > 1:
        return f"{mean(values):.{digits}f} ±{spread(values):.{digits}f}"
    return f"{values[0]:.{digits}f}"


def _reference(reference: Reference | None, metric: str) -> str:
    if reference is None:
        return "-"
    value = getattr(reference, metric, None)
    return "-" if value is None else f"{value:.{reference.digits}f}"


def _difference(measured: Sequence[float], reference: float | None) -> str:
    return "-" if reference is None else f"{mean(measured) - reference:+.3f}"


def protocol_table(rows: Sequence[ProtocolRow]) -> str:
    """Return the protocol figures next to the published ones, as a Markdown table."""
    verdict = {True: "yes", False: "NO", None: "-"}
    return markdown_table(
        (
            "scorer",
            "item features",
            "test ranking",
            "p@10 pipeline",
            "p@10 published",
            "diff",
            "AUC pipeline",
            "AUC published",
            "diff",
            "within tolerance",
        ),
        (
            (
                r.scorer,
                r.features,
                "train excluded" if r.exclude_train else "all items",
                _figure(r.precision),
                _reference(r.reference, "precision"),
                _difference(r.precision, getattr(r.reference, "precision", None)),
                _figure(r.auc),
                _reference(r.reference, "auc"),
                _difference(r.auc, getattr(r.reference, "auc", None)),
                verdict[r.within_tolerance()],
            )
            for r in sorted(rows, key=lambda r: (r.exclude_train, r.features != IDS))
        ),
    )


def temporal_table(rows: Sequence[TemporalRow], settings: RunSettings) -> str:
    """Return the temporal evaluation per run date, and the means, as a Markdown table."""
    k = settings.k
    body = []
    for r in rows:
        f, x = r.figures(), r.figures(excluded=True)
        body.append(
            (
                r.run_date.isoformat(),
                f"{r.customers} ({r.new_customers})",
                f"{f['model_precision']:.3f}",
                f"{f['baseline_precision']:.3f}",
                f"{f['model_auc']:.3f}",
                f"{f['baseline_auc']:.3f}",
                f"{f['passed']:.0%}",
                f"{x['model_precision']:.3f}",
                f"{x['baseline_precision']:.3f}",
                *(_pair(r.by_history[kind]) for kind in ("returning", "new")),
            )
        )
    if rows:
        all_f = [r.figures() for r in rows]
        all_x = [r.figures(excluded=True) for r in rows]
        body.append(
            (
                "mean",
                f"{mean([r.customers for r in rows]):.0f} "
                f"({mean([r.new_customers for r in rows]):.0f})",
                *(
                    f"{mean([v[key] for v in all_f]):.3f}"
                    for key in (
                        "model_precision",
                        "baseline_precision",
                        "model_auc",
                        "baseline_auc",
                    )
                ),
                f"{mean([v['passed'] for v in all_f]):.0%}",
                f"{mean([v['model_precision'] for v in all_x]):.3f}",
                f"{mean([v['baseline_precision'] for v in all_x]):.3f}",
                *(
                    _pair(
                        (
                            [mean(r.by_history[kind][0]) for r in rows],
                            mean([r.by_history[kind][1] for r in rows]),
                        )
                    )
                    for kind in ("returning", "new")
                ),
            )
        )
    return markdown_table(
        (
            "run date",
            "customers (new)",
            f"p@{k} model",
            f"p@{k} popularity",
            "AUC model",
            "AUC popularity",
            "gate passed",
            f"p@{k} model, excl.",
            f"p@{k} popularity, excl.",
            f"p@{k} returning: model / pop.",
            f"p@{k} new: model / pop.",
        ),
        body,
    )


def _pair(figures: tuple[list[float], float]) -> str:
    """Return ``model / baseline`` precision (the model's mean over seeds)."""
    return f"{mean(figures[0]):.3f} / {figures[1]:.3f}"


def search_table(ranked: Sequence[tuple[int, SearchResult]], k: int = DEFAULTS.k) -> str:
    """Return (rank, result) pairs of a search as a Markdown table."""
    return markdown_table(
        (
            "rank",
            "loss",
            "epochs",
            "components",
            "learning rate",
            "item features",
            "weights, cold start",
            f"p@{k}",
            f"recall@{k}",
            "AUC",
            f"p@{k} popularity",
        ),
        (
            (
                n,
                r.candidate.params.loss,
                r.candidate.params.epochs,
                r.candidate.params.no_components,
                f"{r.candidate.params.learning_rate:g}",
                r.candidate.item_features,
                r.candidate.serving(),
                _figure(r.precision, 4),
                _figure(r.recall, 3),
                _figure(r.auc, 3),
                f"{r.baseline_precision:.4f}",
            )
            for n, r in ranked
        ),
    )


def marginal_table(results: Sequence[SearchResult], k: int = DEFAULTS.k) -> str:
    """Return, per value of each searched setting, the mean and best p@k of its candidates."""
    settings: dict[str, Callable[[Candidate], object]] = {
        "loss": lambda c: c.params.loss,
        "epochs": lambda c: c.params.epochs,
        "components": lambda c: c.params.no_components,
        "learning rate": lambda c: f"{c.params.learning_rate:g}",
        "item features": lambda c: c.item_features,
        "identity weight": lambda c: f"{c.params.identity_weight:g}",
        "recency half-life": lambda c: f"{c.params.recency_half_life:g}",
        "repeats weigh more": lambda c: c.params.weigh_repeats,
        "cold-start blend": lambda c: f"{c.params.cold_start_blend:g}",
        "popularity half-life": lambda c: f"{c.params.popularity_half_life:g}",
    }
    body = []
    for name, value_of in settings.items():
        groups: dict[object, list[float]] = {}
        for r in results:
            groups.setdefault(value_of(r.candidate), []).append(mean(r.precision))
        if len(groups) < 2:
            continue
        for value, scores in groups.items():
            body.append((name, value, len(scores), f"{mean(scores):.4f}", f"{max(scores):.4f}"))
    return markdown_table(("setting", "value", "candidates", f"mean p@{k}", f"best p@{k}"), body)


def comparison_table(rows: Sequence[tuple[str, str, SearchResult]], k: int = DEFAULTS.k) -> str:
    """Return (holdout, name, result) rows as a Markdown table, with the baseline."""
    return markdown_table(
        (
            "holdout",
            "configuration",
            "settings",
            f"p@{k}",
            f"recall@{k}",
            "AUC",
            f"p@{k} popularity",
            "model / popularity",
        ),
        (
            (
                holdout,
                name,
                r.candidate.label(),
                _figure(r.precision, 4),
                _figure(r.recall, 3),
                _figure(r.auc, 3),
                f"{r.baseline_precision:.4f}",
                f"{mean(r.precision) / r.baseline_precision:.2f}",
            )
            for holdout, name, r in rows
        ),
    )
