"""The run date against the recent past (burger_recs.day_checks), through ingest and validate.

A generated shop of 600 customers over 40 days (the weekly rhythm included); its last day is
broken the ways an export or a join goes wrong, and validate's step runs on the drop ingest
reads, as in the pipeline.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from burger_recs.day_checks import (
    ACCEPTED,
    DAY_CHECK,
    NORMAL,
    NOT_JUDGED,
    STOPPED,
    WARNED,
    UnusualDay,
    check_day,
)
from burger_recs.generate import generate_data
from burger_recs.settings import DEFAULTS, DayCheckSettings
from burger_recs.steps import validate
from burger_recs.steps.ingest import ingest
from burger_recs.validated import ValidatedData
from tests.support.drops import a_tenth, three_times

END = dt.date(2026, 3, 28)  # a Saturday, the busiest weekday
WINDOW = 35


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shop")
    generate_data(root, customers=600, days=40, seed=11, end_date=END)
    return root


@pytest.fixture
def shop(generated: Path, tmp_path: Path) -> Path:
    """A copy of the generated shop that a test may break."""
    return Path(shutil.copytree(generated, tmp_path / "shop"))


def _orders_file(root: Path, day: dt.date = END) -> Path:
    return root / f"date={day}" / "orders.csv"


def _rewrite(root: Path, change, day: dt.date = END) -> int:
    """Rewrite a day's orders with ``change`` (a frame -> frame); return its row count."""
    path = _orders_file(root, day)
    frame = change(pd.read_csv(path, dtype=str, keep_default_na=False))
    frame.to_csv(path, index=False)
    return len(frame)


def _validate(root: Path | str, tmp_path: Path, day: dt.date = END, **options) -> ValidatedData:
    """Ingest and validate the day as the pipeline does; return the validated data."""
    ingest(str(root), day, WINDOW).save(tmp_path / "drop")
    validate.run(
        str(tmp_path / "drop"), str(tmp_path / "validated"), str(tmp_path / "report.md"), **options
    )
    return ValidatedData.load(tmp_path / "validated")


def test_every_normal_day_of_the_last_weeks_is_normal_whatever_its_weekday(generated, tmp_path):
    ingest(str(generated), END, WINDOW).save(tmp_path / "drop")
    data = validate.typed(validate.Drop.load(tmp_path / "drop"))
    days = [END - dt.timedelta(days=n) for n in range(14)]
    verdicts = {day: check_day(data.orders[data.orders["day"] <= str(day)], day) for day in days}
    assert {c.verdict for c in verdicts.values()} == {NORMAL}, {
        d: c.findings for d, c in verdicts.items() if c.verdict != NORMAL
    }
    # The weekly rhythm: a Saturday is held against the last Saturdays, a Monday against
    # the last Mondays, though Saturdays are twice as busy.
    saturday, monday = verdicts[END], verdicts[END - dt.timedelta(days=5)]
    assert saturday.reference.endswith("Saturdays") and monday.reference.endswith("Mondays")
    assert saturday.expected_orders > 1.5 * monday.expected_orders


def test_a_tenth_of_the_usual_orders_stops_the_day_in_numbers(shop, tmp_path):
    kept = _rewrite(shop, a_tenth)
    with pytest.raises(UnusualDay) as stopped:
        _validate(shop, tmp_path)
    message = str(stopped.value)
    found = re.search(
        r"orders: (\d+), the last (\d) Saturdays' median is ([\d,]+) \(-(\d+)%\)", message
    )
    assert found, message
    assert int(found[1]) == kept and int(found[4]) >= 85
    assert "accept_unusual_day=true" in message
    assert not (tmp_path / "validated").exists()  # nothing handed on to train
    report = (tmp_path / "report.md").read_text()
    assert "the day looks unusual" in report and f"| orders | {kept} |" in report


def test_a_day_of_one_item_stops_the_day_naming_the_item(shop, tmp_path):
    _rewrite(shop, lambda f: f.assign(item_id=f["item_id"].iloc[0]))
    item = pd.read_csv(_orders_file(shop), dtype=str)["item_id"].iloc[0]
    with pytest.raises(UnusualDay) as stopped:
        _validate(shop, tmp_path)
    assert re.search(
        r"item mix: an item's share of the orders moved by 0\.\d\d", str(stopped.value)
    )
    assert f"{item} is 100% of today's orders" in str(stopped.value)


def test_a_three_fold_spike_warns_and_goes_on(shop, tmp_path):
    rows = _rewrite(shop, three_times)
    data = _validate(shop, tmp_path)
    assert data.day_check["verdict"] == WARNED
    assert data.day_check["figures"]["orders"] == rows
    assert "above 2x it" in data.day_check["findings"][0]


def test_a_three_quarter_day_is_normal(shop, tmp_path):
    _rewrite(shop, lambda f: f.iloc[: len(f) * 3 // 4])
    assert _validate(shop, tmp_path).day_check["verdict"] == NORMAL


def test_an_unusual_day_accepted_by_the_run_goes_on_and_says_so(shop, tmp_path):
    _rewrite(shop, a_tenth)
    data = _validate(shop, tmp_path, accept_unusual_day=True)
    assert data.day_check["verdict"] == ACCEPTED
    assert "accepted" in (tmp_path / "report.md").read_text()


def test_a_day_too_early_in_the_history_is_not_judged(generated, tmp_path):
    early = END - dt.timedelta(days=36)  # the shop's fourth day: three days before it
    data = _validate(generated, tmp_path, day=early)
    assert data.day_check["verdict"] == NOT_JUDGED
    assert "3 earlier day(s) in the window, 14 needed" in data.day_check["reference"]


def test_the_thresholds_are_settings_and_refuse_nonsense(shop, tmp_path):
    _rewrite(shop, a_tenth)
    lenient = DayCheckSettings(volume_drop=0.05, mix_shift=1.0)
    assert _validate(shop, tmp_path, day_check=lenient).day_check["verdict"] == NORMAL
    with pytest.raises(ValueError, match=r"volume_drop must be at least 0 and below 1, got 1\.5"):
        DayCheckSettings(volume_drop=1.5)
    assert DEFAULTS.day_check.volume_drop == 0.4


def test_a_manifest_the_files_disagree_with_stops_the_day(shop, tmp_path):
    folder = _orders_file(shop).parent
    rows = _rewrite(shop, lambda f: f)
    (folder / "manifest.json").write_text(json.dumps({"orders_rows": rows + 40}))
    with pytest.raises(validate.ValidationFailed) as failed:
        _validate(shop, tmp_path)
    assert (
        f"{folder}/manifest.json [orders_rows]: says the export wrote {rows + 40:,} order rows, "
        f"but {folder}/orders.csv holds {rows:,} (-40)"
    ) in str(failed.value)

    (folder / "manifest.json").write_text(json.dumps({"orders_rows": rows}))
    assert _validate(shop, tmp_path / "agrees").day_check["verdict"] == NORMAL

    # Rows ingest could not read are said once, as such, not as an export cut short.
    with _orders_file(shop).open("a") as orders:
        orders.write("o-ragged,c1,i1,1,2026-03-28T12:00:00Z,an extra field\n")
    (folder / "manifest.json").write_text(json.dumps({"orders_rows": rows + 1}))
    with pytest.raises(validate.ValidationFailed) as ragged:
        _validate(shop, tmp_path / "ragged")
    assert "fields like the header" in str(ragged.value)
    assert "export cut short" not in str(ragged.value)

    (folder / "manifest.json").write_text('{"orders_rows": "many"}')
    with pytest.raises(validate.ValidationFailed, match="must be a JSON object like"):
        _validate(shop, tmp_path / "malformed")


def test_the_check_keeps_its_figures_for_the_record(generated, tmp_path):
    data = _validate(generated, tmp_path)
    from burger_recs.day_checks import DayCheck

    figures = DayCheck.from_dict(data.day_check).metrics()
    assert figures[DAY_CHECK] == NORMAL
    assert {"day_orders", "day_customers", "day_new_customers", "day_items"} <= set(figures)
    assert figures["day_orders_expected"] > 0 and 0 <= figures["day_mix_shift"] < 0.35
    # The band the orders were held to, for the trend page: the settings' shares of the median.
    expected = figures["day_orders_expected"]
    assert figures["day_orders_floor"] == pytest.approx(0.4 * expected, abs=0.01)
    assert figures["day_orders_ceiling"] == pytest.approx(2.0 * expected, abs=0.01)
    assert STOPPED not in figures.values()


@pytest.mark.gcs
def test_a_gcs_root_gets_the_same_verdicts_and_messages(gcs_emulator, shop, tmp_path):
    folder = _orders_file(shop).parent
    rows = _rewrite(shop, a_tenth)
    with pytest.raises(UnusualDay) as local:
        _validate(shop, tmp_path / "local")
    (folder / "manifest.json").write_text(json.dumps({"orders_rows": rows + 1}))
    gcs_emulator.create_bucket("shop")
    gcs_emulator.upload_tree(shop, "shop", "drops")

    with pytest.raises(validate.ValidationFailed) as failed:
        _validate("gs://shop/drops", tmp_path / "gcs")
    assert (
        f"gs://shop/drops/date={END}/manifest.json [orders_rows]: says the export wrote "
        f"{rows + 1:,} order rows, but gs://shop/drops/date={END}/orders.csv holds {rows:,}"
    ) in str(failed.value)
    (folder / "manifest.json").unlink()
    gcs_emulator.client.bucket("shop").blob(f"drops/date={END}/manifest.json").delete()
    with pytest.raises(UnusualDay) as remote:
        _validate("gs://shop/drops", tmp_path / "gcs-again")
    assert str(remote.value) == str(local.value)


def test_a_small_days_mix_is_judged_by_chance_not_by_its_swing():
    """Eight orders a day over twelve items: half of today's orders for one item is a shift
    of 0.42, which chance explains at that size (a binomial tail of about 0.004)."""
    items = [f"i{n:02d}" for n in range(12)]
    rows = []
    for n in range(28, 0, -1):
        day = END - dt.timedelta(days=n)
        rows += [(f"o{day}-{k}", f"c{k}", items[(n + k) % 12], 1, str(day)) for k in range(8)]
    today = [items[0]] * 4 + items[1:5]
    rows += [(f"o{END}-{k}", f"c{k}", item, 1, str(END)) for k, item in enumerate(today)]
    orders = pd.DataFrame(rows, columns=["order_id", "customer_id", "item_id", "quantity", "day"])
    check = check_day(orders, END)
    assert check.mix_shift == pytest.approx(0.5 - 1 / 12, abs=0.03)
    assert check.verdict == NORMAL, check.findings
    # The same half of the orders on a day of 400 is no chance: it stops.
    big = orders[orders["day"] != str(END)]
    big = pd.concat([big] * 50, ignore_index=True)
    big_today = [
        (f"o{END}-{k}", f"c{k}", items[0] if k < 200 else items[k % 12], 1, str(END))
        for k in range(400)
    ]
    big = pd.concat([big, pd.DataFrame(big_today, columns=big.columns)], ignore_index=True)
    assert check_day(big, END).verdict == STOPPED
