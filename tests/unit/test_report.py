"""The run report (burger_recs.report): the metrics table, by new and returning customers."""

import datetime as dt
import re

from burger_recs.evaluation import Evaluation, RankingScores
from burger_recs.report import render_html


def scores(p: float, new: float, returning: float, new_customers: int = 3) -> RankingScores:
    segments = {
        "new": RankingScores([new, new], [new, new], 0.5, new_customers),
        "returning": RankingScores([returning, returning], [returning, 2 * returning], 0.5, 7),
    }
    return RankingScores([p, p], [p, p], 0.5, 10, segments=segments)


def cells(page: str, label: str) -> list[str]:
    """The cells of the table row whose first cell is ``label``."""
    row = re.search(rf"<tr><td>{re.escape(label)}</td>(.*?)</tr>", page)
    assert row is not None, label
    return re.findall(r"<td>(.*?)</td>", row.group(1))


def test_the_report_shows_precision_and_recall_for_new_and_returning_customers(taste_shop):
    evaluation = Evaluation(
        k=2,
        holdout_start=taste_shop.run_date - dt.timedelta(days=6),
        model=scores(0.4, 0.1, 0.5),
        baseline=scores(0.3, 0.2, 0.25),
        publishable=True,
        reason="passed",
        champion=scores(0.35, 0.0, 0.45, new_customers=0),
        champion_version="m0",
    )
    page = render_html(evaluation, taste_shop, "code-1")
    # Columns: today's model, the champion, popularity.
    assert cells(page, "precision@2") == ["0.4000", "0.3500", "0.3000"]
    assert cells(page, "precision@2, new customers") == ["0.1000", "—", "0.2000"]
    assert cells(page, "precision@2, returning customers") == ["0.5000", "0.4500", "0.2500"]
    assert cells(page, "recall@2, returning customers") == ["1.0000", "0.9000", "0.5000"]
    assert "10 customers evaluated (3 new, 7 returning)" in page
