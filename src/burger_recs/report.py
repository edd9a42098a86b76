"""The run report: a self-contained HTML page with the metrics table and plots.

The Kubeflow UI renders it as an HTML artifact; locally it is a file to open in a browser.
"""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")  # no display in containers or CI
import matplotlib.pyplot as plt
import pandas as pd

from burger_recs.evaluation import EVAL_CUSTOMERS, Evaluation, RankingScores
from burger_recs.validated import ValidatedData


def png_base64(fig: plt.Figure) -> str:
    """Return a figure as base64 PNG, for a ``data:`` URI (no file, no request); close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def ranking_figure(evaluation: Evaluation) -> plt.Figure:
    """Plot precision@j and recall@j for j = 1..k: today's model, champion, popularity."""
    ks = range(1, evaluation.k + 1)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, metric in zip(axes, ("precision", "recall"), strict=True):
        ax.plot(ks, getattr(evaluation.model, metric), marker="o", label="LightFM model")
        if evaluation.champion is not None:
            champion = getattr(evaluation.champion, metric)
            ax.plot(ks, champion, marker="^", label="champion")
        ax.plot(ks, getattr(evaluation.baseline, metric), marker="s", label="popularity")
        ax.set_xlabel("k")
        ax.set_title(f"{metric}@k on the holdout")
        ax.grid(alpha=0.3)
    axes[0].legend()
    return fig


def orders_figure(data: ValidatedData, evaluation: Evaluation) -> plt.Figure:
    """Plot orders per day over the window, the holdout days shaded."""
    per_day = data.orders.groupby("day").size()
    per_day.index = pd.to_datetime(per_day.index)
    fig, ax = plt.subplots(figsize=(9, 2.6))
    ax.bar(per_day.index, per_day.to_numpy(), color="#c0622d")
    # matplotlib annotates axvspan's limits as float; its date units convert Timestamps.
    ax.axvspan(
        pd.Timestamp(evaluation.holdout_start) - pd.Timedelta(hours=12),  # type: ignore[arg-type]
        per_day.index.max() + pd.Timedelta(hours=12),  # type: ignore[arg-type]
        color="grey",
        alpha=0.2,
        label="holdout",
    )
    ax.set_title("orders per day in the window")
    ax.legend()
    fig.autofmt_xdate()
    return fig


def _table_rows(evaluation: Evaluation) -> list[tuple[str, str, str]]:
    """Return the rows of the metrics table: label, figure (precision, recall), segment."""
    rows = []
    for attr in ("precision", "recall"):
        rows.append((f"{attr}@{evaluation.k}", attr, ""))
        rows += [
            (f"{attr}@{evaluation.k}, {segment} customers", attr, segment)
            for segment in evaluation.model.segments
        ]
    return rows


def _figure(scores: RankingScores, attr: str, segment: str) -> str:
    """Return a scorer's figure@k overall or over a segment; a dash without its customers."""
    part = scores.segments.get(segment) if segment else scores
    if part is None or not part.customers:
        return "—"
    return f"{getattr(part, attr)[-1]:.4f}"


def render_html(evaluation: Evaluation, data: ValidatedData, code_version: str) -> str:
    """Return the report page for one run."""
    metrics = evaluation.metrics()
    scorers = [("today's model", evaluation.model), ("popularity", evaluation.baseline)]
    if evaluation.champion is not None:
        champion = f"champion {evaluation.champion_version}"
        scorers.insert(1, (champion, evaluation.champion))
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in scorers)
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td>{_figure(scores, attr, segment)}</td>" for _, scores in scorers)
        + "</tr>"
        for label, attr, segment in _table_rows(evaluation)
    )
    rows += "<tr><td>AUC</td>" + "".join(f"<td>{s.auc:.4f}</td>" for _, s in scorers) + "</tr>"
    split = ", ".join(
        f"{part.customers:,} {html.escape(segment)}"
        for segment, part in evaluation.model.segments.items()
    )
    if evaluation.publishable:
        verdict = "passed: today's model is the champion and serves the day"
    elif evaluation.served_by:
        verdict = f"gated: the day is served by {evaluation.served_by}"
    else:
        verdict = "gated: nothing published for the day"
    on_menu = int(data.on_menu(data.menu["item_id"].to_numpy()).sum())
    params = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in evaluation.params.items()
    )
    ranking_png = png_base64(ranking_figure(evaluation))
    orders_png = png_base64(orders_figure(data, evaluation))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>burger-recs {data.run_date}</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:1em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}</style></head>
<body>
<h1>burger-recs: run date {data.run_date}</h1>
<p>Code version <code>{html.escape(code_version)}</code>. Window {data.window_start} ..
{data.run_date}; holdout from {evaluation.holdout_start};
{metrics[EVAL_CUSTOMERS]:,} customers evaluated{f" ({split})" if split else ""};
{len(data.orders):,} orders, {on_menu:,} menu items, {len(data.customers):,} customers.</p>
<h2>Quality gate: {html.escape(verdict)}</h2>
<p>{html.escape(evaluation.reason)}</p>
<p>{html.escape(evaluation.serving_reason)}</p>
<table><tr><th>metric</th>{head}</tr>{rows}</table>
<img alt="precision and recall at k" src="data:image/png;base64,{ranking_png}">
<img alt="orders per day" src="data:image/png;base64,{orders_png}">
<h2>Parameters</h2><table>{params}</table>
</body></html>
"""
