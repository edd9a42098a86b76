"""Benchmark the steps at scale against raw baselines measured in the same run (`make bench`).

Generates a shop of SCALE customers x 1,000 menu items x 60 days, then measures, each step
in a fresh Python process of its own (the step's function call is timed after its imports;
the process's ``ru_maxrss`` is its peak memory):

- train step / raw ``LightFM.fit`` of the same two models on the same matrices, at the same
  time in two threads as the step fits them;
- recommend step / a raw numpy blocked matrix product + ``argpartition`` top-k;
- publish step / raw psycopg ``COPY`` of the same rows (PostgreSQL) and / raw ``executemany``
  in one transaction (SQLite), each into empty tables;
- the sharded publish (stage every shard, then commit) against the same raw loads;
- the embedded pipeline (kfp.local) / the same steps called in one Python process;
- the embedded pipeline / the shortest way to the same day's result in one Python process:
  ``pandas.read_csv`` of the drops, one ``LightFM.fit``, a numpy matmul + ``argpartition``
  top-k and one SQLite ``executemany`` transaction (these three are whole-process wall times);
- ingest / ``pandas.read_csv`` of the same files (for the record; no target).

Step and baseline alternate and each pair is repeated; the fastest of each is kept (the
machine may be shared). PostgreSQL comes from ``BURGER_RECS_TEST_POSTGRES_URL`` or is started
with scripts/test-services.sh and stopped again. The table is printed and written into
docs/benchmarks.md between ``<!-- bench:SCALE -->`` markers. The figures are also kept in
``results.json`` in the work folder: a run of some ``--parts`` replaces those parts' figures and
keeps the others from earlier runs (the table says which), so the section stays whole.

Usage: scripts/bench.py --scale 100000 [--repeat 3] [--parts train,recommend,...] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from burger_recs.settings import DEFAULTS

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
SERVICES = REPO / "scripts" / "test-services.sh"
POSTGRES_URL_ENV = "BURGER_RECS_TEST_POSTGRES_URL"
RESULT_PREFIX = "BENCH-RESULT "
RUN_DATE = dt.date(2026, 3, 30)
ITEMS, DAYS, SEED = 1000, 60, 42
# The pipeline's own defaults (burger_recs.settings), so the bench measures a default day.
WINDOW_DAYS, HOLDOUT_DAYS, K = DEFAULTS.window_days, DEFAULTS.holdout_days, DEFAULTS.k
PARTS = ("ingest", "train", "recommend", "publish", "pipeline")
# Generous per-process limit: a step that takes longer is broken, not slow.
TIMEOUT = 4 * 3600


def _first(row: tuple[Any, ...] | None) -> Any:
    """Return the first value of a query's one row (a count, a setting)."""
    if row is None:
        raise RuntimeError("the query returned no row")
    return row[0]


def _group(pattern: str, text: str) -> str:
    """Return the first group of the first match of ``pattern`` in ``text``."""
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"no match for {pattern!r}")
    return match[1]


# ---------------------------------------------------------------------------------------------
# Workers: each measurement runs in a fresh process (`bench.py --worker NAME --args JSON`)
# ---------------------------------------------------------------------------------------------
def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _work_paths(work: str) -> dict[str, str]:
    steps = Path(work) / "steps"
    return {
        "drop": str(steps / "drop"),
        "validated": str(steps / "validated"),
        "validation": str(steps / "validation.md"),
        "model": str(steps / "model.pkl"),
        "eval_model": str(steps / "eval_model.pkl"),
        "evaluation": str(steps / "evaluation.json"),
        "report": str(steps / "report.html"),
        "recs": str(steps / "recommendations.parquet"),
        "version": str(steps / "model_version.txt"),
    }


def _reset_database(url: str) -> None:
    """Empty output tables (and no staging) in the database, as before a first publish."""
    import sqlalchemy as sa

    from burger_recs.contract import metadata
    from burger_recs.db import make_engine
    from burger_recs.migrations import migrate
    from burger_recs.steps.commit import STAGE_PREFIX

    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        engine.dispose()
        database = sa.make_url(url).database
        assert database is not None, f"{url}: no database file"
        path = Path(database)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        engine = make_engine(url)
    with engine.begin() as conn:
        for name in sa.inspect(conn).get_table_names():
            if name.startswith(STAGE_PREFIX):
                conn.execute(sa.text(f'DROP TABLE "{name}"'))
    metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    migrate(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("CHECKPOINT"))
    engine.dispose()


def _rows_for_raw_load(paths: dict[str, str]) -> list[tuple]:
    """The rows publish writes, as tuples: the recommend output plus the run's stamps."""
    import pyarrow.parquet as pq

    table = pq.read_table(paths["recs"])
    n = table.num_rows
    version = Path(paths["version"]).read_text().strip()
    columns = [
        [RUN_DATE] * n,
        table["customer_id"].to_pylist(),
        table["rank"].to_pylist(),
        table["item_id"].to_pylist(),
        table["score"].cast("float64").to_pylist(),
        [version] * n,
        ["bench"] * n,
    ]
    return list(zip(*columns, strict=True))


_REC_COLUMNS = "run_date, customer_id, rank, item_id, score, model_version, code_version"


def worker(name: str, args: dict) -> dict:
    """Run one measurement in this process; return its figures."""
    work, data = args["work"], args["data"]
    paths = _work_paths(work)
    result: dict = {}
    if name == "step:ingest":
        from burger_recs.steps import ingest

        result["seconds"] = _timed(
            lambda: ingest.run(data, RUN_DATE.isoformat(), WINDOW_DAYS, paths["drop"])
        )
    elif name == "raw:read_csv":
        import pandas as pd

        first = RUN_DATE - dt.timedelta(days=WINDOW_DAYS - 1)
        files = sorted(
            f
            for f in Path(data).glob("date=*/*.csv")
            if f.parent.name.removeprefix("date=") >= first.isoformat()
        )

        def read() -> None:
            for f in files:
                pd.read_csv(f, dtype=str, keep_default_na=False)

        result["seconds"] = _timed(read)
    elif name == "step:validate":
        from burger_recs.steps import validate

        result["seconds"] = _timed(
            lambda: validate.run(paths["drop"], paths["validated"], paths["validation"])
        )
    elif name == "step:train":
        from burger_recs.steps import train

        def fit() -> None:
            version = train.run(
                paths["validated"],
                paths["model"],
                paths["eval_model"],
                HOLDOUT_DAYS,
                DEFAULTS.train,
            )
            Path(paths["version"]).write_text(version)

        result["seconds"] = _timed(fit)
    elif name == "raw:train":
        result.update(_raw_train(paths))
    elif name == "step:evaluate":
        from burger_recs.steps import evaluate

        result["seconds"] = _timed(
            lambda: evaluate.run(
                paths["validated"],
                paths["eval_model"],
                paths["evaluation"],
                paths["report"],
                K,
                False,
                -1.0,
            )
        )
    elif name == "step:recommend":
        from burger_recs.steps import recommend

        out = args.get("out", paths["recs"])
        shard, shards = args.get("shard", 0), args.get("shards", 1)
        result["seconds"] = _timed(
            lambda: recommend.run(paths["model"], paths["validated"], out, K, False, shard, shards)
        )
    elif name == "raw:recommend":
        result.update(_raw_recommend(paths))
    elif name == "step:publish":
        from burger_recs.steps import publish

        _reset_database(args["url"])
        os.environ["DATABASE_URL"] = args["url"]
        version = Path(paths["version"]).read_text().strip()
        result["seconds"] = _timed(
            lambda: publish.run(
                paths["recs"], paths["validated"], paths["evaluation"], version, "bench", data
            )
        )
    elif name == "step:sharded-publish":
        from burger_recs.steps import commit

        _reset_database(args["url"])
        os.environ["DATABASE_URL"] = args["url"]
        version = Path(paths["version"]).read_text().strip()
        shards = args["shards"]

        def stage_and_commit() -> None:
            staged = [
                commit.stage_run(args["shard_files"][s], "bench", "", s, shards)
                for s in range(shards)
            ]
            commit.commit_run(
                paths["validated"], paths["evaluation"], version, "bench", data, shards, staged
            )

        result["seconds"] = _timed(stage_and_commit)
    elif name == "raw:copy":
        result.update(_raw_copy(paths, args["url"]))
    elif name == "raw:executemany":
        result.update(_raw_executemany(paths, args["url"]))
    elif name == "inprocess":
        _in_process(args, paths)
    elif name == "shortest":
        result.update(_shortest_way(args))
    elif name == "pipeline":
        from burger_recs.pipelines.compile import compiled_pipeline
        from burger_recs.pipelines.local_run import run_pipeline

        _reset_database(args["url"])
        # A measured run computes the whole day: nothing from a local task cache of earlier runs.
        shutil.rmtree(Path(args["root"]) / "cache", ignore_errors=True)
        arguments = {"data_uri": data, "run_date": RUN_DATE.isoformat(), "quality_margin": -1.0}
        run = run_pipeline(compiled_pipeline(), arguments, args["url"], Path(args["root"]))
        result["status"] = run.status
    else:
        raise SystemExit(f"unknown worker {name}")
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _raw_train(paths: dict[str, str]) -> dict:
    """Fit the train step's two models with LightFM directly; only the fits are timed.

    The two fit at the same time in two threads, as the step fits them.
    """
    from concurrent.futures import ThreadPoolExecutor

    from burger_recs import model
    from burger_recs.steps import train
    from burger_recs.validated import ValidatedData

    data = ValidatedData.load(paths["validated"])
    params = DEFAULTS.train
    evaluation_until = train.holdout_start(data, HOLDOUT_DAYS) - dt.timedelta(days=1)
    customer_ids, item_ids = model.model_ids(data)
    features, _ = model.item_feature_matrix(data.menu, item_ids, params.identity_weight)
    weighted = params.recency_half_life > 0 or params.weigh_repeats
    inputs = []
    for until in (evaluation_until, data.run_date):
        orders = data.orders[data.orders["day"] <= until.isoformat()]
        interactions, weights = model.weighted_interactions(
            orders, customer_ids, item_ids, until, params.recency_half_life, params.weigh_repeats
        )
        inputs.append((interactions, weights if weighted else None))

    def fit_one(matrices: tuple[Any, Any]) -> None:
        interactions, weights = matrices
        model.new_model(params).fit(
            interactions,
            sample_weight=weights,
            item_features=features,
            epochs=params.epochs,
            num_threads=params.num_threads,
        )

    def fit() -> None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(fit_one, inputs))

    return {"seconds": _timed(fit), "interactions": int(inputs[1][0].nnz)}


def _raw_recommend(paths: dict[str, str]) -> dict:
    """Top-k of every customer by blocked matmul + argpartition; only the scoring is timed.

    The scorer is the one the step serves (cold start, today's menu), built beforehand.
    """
    import numpy as np

    from burger_recs.model import TrainedModel
    from burger_recs.scoring import DEFAULT_BLOCK
    from burger_recs.steps.recommend import served_factors
    from burger_recs.validated import ValidatedData

    trained = TrainedModel.load(paths["model"])
    factors = served_factors(trained, None, ValidatedData.load(paths["validated"]), None)
    users, items, bias = factors.users, factors.items, factors.item_bias
    n = len(users)
    top_items = np.empty((n, K), dtype=np.int64)
    top_scores = np.empty((n, K), dtype=np.float32)

    def score() -> None:
        for start in range(0, n, DEFAULT_BLOCK):
            scores = users[start : start + DEFAULT_BLOCK] @ items.T
            scores += bias
            part = np.argpartition(scores, -K, axis=1)[:, -K:]
            values = np.take_along_axis(scores, part, axis=1)
            order = np.argsort(-values, axis=1)
            top_items[start : start + DEFAULT_BLOCK] = np.take_along_axis(part, order, axis=1)
            top_scores[start : start + DEFAULT_BLOCK] = np.take_along_axis(values, order, axis=1)

    return {"seconds": _timed(score), "customers": n}


def _raw_copy(paths: dict[str, str], url: str) -> dict:
    """COPY the publish step's rows with psycopg in one transaction; only the load is timed."""
    import psycopg

    rows = _rows_for_raw_load(paths)
    _reset_database(url)
    with psycopg.connect(url) as conn:

        def load() -> None:
            with conn.transaction(), conn.cursor() as cursor:
                statement = f"COPY recommendations ({_REC_COLUMNS}) FROM STDIN"
                with cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)

        seconds = _timed(load)
        loaded = _first(conn.execute("SELECT count(*) FROM recommendations").fetchone())
    return {"seconds": seconds, "rows": loaded}


def _raw_executemany(paths: dict[str, str], url: str) -> dict:
    """Insert the publish step's rows with sqlite3's executemany in one transaction."""
    import sqlite3

    import sqlalchemy as sa

    rows = [(r[0].isoformat(), *r[1:]) for r in _rows_for_raw_load(paths)]
    _reset_database(url)
    database = sa.make_url(url).database
    assert database is not None, f"{url}: no database file"
    conn = sqlite3.connect(database, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=30000")
    marks = ", ".join("?" * 7)

    def load() -> None:
        with conn:
            conn.executemany(f"INSERT INTO recommendations ({_REC_COLUMNS}) VALUES ({marks})", rows)

    seconds = _timed(load)
    loaded = conn.execute("SELECT count(*) FROM recommendations").fetchone()[0]
    conn.close()
    return {"seconds": seconds, "rows": loaded}


def _shortest_way(args: dict) -> dict:
    """The day's result the shortest way, in this one process (its wall time is the figure).

    ``pandas.read_csv`` of the window's orders, of the menus in force during it and of the
    newest customers snapshot; one fit of the serving model (the train step's ``fit``: the
    model's own matrices, sample weights and one ``LightFM.fit`` with the pipeline's default
    parameters); the scorer as served (``scoring.served``: cold start, today's menu); a matmul
    + ``argpartition`` top-k of every customer; one ``executemany`` transaction into an empty
    ``recommendations`` table in SQLite (WAL). No drop or validation, no evaluation model, no
    artifacts, no run record, no process per step.
    """
    import sqlite3
    from itertools import repeat

    import numpy as np
    import pandas as pd

    from burger_recs.model import popularity
    from burger_recs.scoring import served
    from burger_recs.steps.train import fit
    from burger_recs.validated import ON_MENU, ValidatedData

    params = DEFAULTS.train
    window_start = RUN_DATE - dt.timedelta(days=WINDOW_DAYS - 1)
    first = window_start.isoformat()
    folders = {
        f.name.removeprefix("date="): f
        for f in sorted(Path(args["data"]).glob("date=*"))
        if f.name.removeprefix("date=") <= RUN_DATE.isoformat()
    }

    def read(path: Path, columns: list[str]) -> pd.DataFrame:
        return pd.read_csv(path, dtype=str, keep_default_na=False, usecols=columns)

    def days_with(name: str) -> list[str]:
        return [day for day, folder in folders.items() if (folder / name).exists()]

    orders = pd.concat(
        read(folders[day] / "orders.csv", ["customer_id", "item_id"]).assign(day=day)
        for day in days_with("orders.csv")
        if day >= first
    )
    # The menus in force during the window (the newest at or before its first day, and every
    # later one), newest first: an item's ingredients come from the newest menu listing it.
    menu_days = days_with("menu.csv")
    in_force = [d for d in menu_days if d <= first][-1:] + [d for d in menu_days if d > first]
    menus = [read(folders[d] / "menu.csv", ["item_id", "ingredients"]) for d in in_force[::-1]]
    menu = pd.concat(menus).drop_duplicates("item_id")
    menu[ON_MENU] = menu["item_id"].isin(menus[0]["item_id"])
    snapshot = read(folders[days_with("customers.csv")[-1]] / "customers.csv", ["customer_id"])
    # Customers seen only in orders are customers too (model_ids takes the unique ids).
    customers = pd.concat([snapshot, orders[["customer_id"]]])
    data = ValidatedData(RUN_DATE, window_start, orders, menu, customers)

    model = fit(data, params)
    recent = popularity(orders, model.item_ids, RUN_DATE, params.popularity_half_life)
    scorer = served(model.factors(), recent, params, data.on_menu(model.item_ids))
    users, items, bias = scorer.users, scorer.items, scorer.item_bias
    n = len(users)
    top_items = np.empty((n, K), dtype=np.int64)
    top_scores = np.empty((n, K), dtype=np.float32)
    block = 4096
    for start in range(0, n, block):
        scores = users[start : start + block] @ items.T
        scores += bias
        part = np.argpartition(scores, -K, axis=1)[:, -K:]
        values = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-values, axis=1)
        top_items[start : start + block] = np.take_along_axis(part, order, axis=1)
        top_scores[start : start + block] = np.take_along_axis(values, order, axis=1)

    database = Path(args["database"])
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(args["ddl"])
    records = zip(
        repeat(RUN_DATE.isoformat()),
        np.repeat(model.customer_ids, K).tolist(),
        np.tile(np.arange(1, K + 1), n).tolist(),
        model.item_ids[top_items.ravel()].tolist(),
        top_scores.ravel().astype(np.float64).tolist(),
        repeat("shortest"),
        repeat("bench"),
        strict=False,
    )
    marks = ", ".join("?" * 7)
    with conn:
        conn.executemany(f"INSERT INTO recommendations ({_REC_COLUMNS}) VALUES ({marks})", records)
    loaded = conn.execute("SELECT count(*) FROM recommendations").fetchone()[0]
    conn.close()
    return {"rows": loaded, "customers": n, "interactions": model.interactions}


def _recommendations_ddl() -> str:
    """Return SQLite's CREATE TABLE of the contract's ``recommendations`` (same key, types)."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import sqlite

    from burger_recs.contract import recommendations

    return str(sa.schema.CreateTable(recommendations).compile(dialect=sqlite.dialect()))


def _in_process(args: dict, paths: dict[str, str]) -> None:
    """The steps, called one after the other in this process (into a folder of its own)."""
    from burger_recs.steps import evaluate, ingest, publish, recommend, train, validate

    _reset_database(args["url"])
    os.environ["DATABASE_URL"] = args["url"]
    own = {name: path.replace("/steps/", "/inprocess/") for name, path in paths.items()}
    Path(own["recs"]).parent.mkdir(parents=True, exist_ok=True)
    data = args["data"]
    started_at = dt.datetime.now(dt.UTC).isoformat()
    ingest.run(data, RUN_DATE.isoformat(), WINDOW_DAYS, own["drop"])
    validate.run(own["drop"], own["validated"], own["validation"])
    version = train.run(
        own["validated"], own["model"], own["eval_model"], HOLDOUT_DAYS, DEFAULTS.train
    )
    evaluate.run(
        own["validated"], own["eval_model"], own["evaluation"], own["report"], K, False, -1.0
    )
    recommend.run(own["model"], own["validated"], own["recs"], K, False)
    publish.run(
        own["recs"], own["validated"], own["evaluation"], version, "inprocess", data, started_at
    )


# ---------------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------------
def _output_in(output: str) -> Callable[[Path], str]:
    """Return the function giving a step's ``output`` path in a work folder."""
    return lambda work: _work_paths(str(work))[output]


# Steps whose output a --reuse run takes from an earlier run, when they are not measured.
REUSABLE: dict[str, Callable[[Path], str]] = {
    f"step:{step}": _output_in(output)
    for step, output in (
        ("ingest", "drop"),
        ("validate", "validated"),
        ("train", "version"),
        ("evaluate", "evaluation"),
        ("recommend", "recs"),
    )
}


@dataclass
class Measured:
    """The fastest of a measurement's repeats, and its peak memory."""

    name: str
    seconds: float = float("inf")
    wall: float = float("inf")
    max_rss_mb: float = 0.0
    extra: dict = field(default_factory=dict)


# Which part of PARTS a measurement belongs to, by key prefix (longest first); the steps
# outside every part (validate, evaluate) are figures only, with no baseline.
PART_OF = {
    "step:recommend-shard": "publish",
    "step:sharded-publish": "publish",
    "step:publish": "publish",
    "raw:copy": "publish",
    "raw:executemany": "publish",
    "step:ingest": "ingest",
    "raw:read_csv": "ingest",
    "step:train": "train",
    "raw:train": "train",
    "step:recommend": "recommend",
    "raw:recommend": "recommend",
    "pipeline": "pipeline",
    "inprocess": "pipeline",
    "shortest": "pipeline",
}


def part_of(key: str) -> str | None:
    """Return the part of ``PARTS`` that measurement ``key`` belongs to, or None."""
    for prefix, part in PART_OF.items():
        if key == prefix or key.startswith((prefix + ":", prefix + "-")):
            return part
    return None


def merge_results(
    stored: dict[str, dict], fresh: dict[str, Measured], parts: set[str], run_at: str
) -> dict[str, dict]:
    """Return the stored measurements (``results.json``) updated with this run's.

    Each entry carries ``measured``, the start of the run that took it (``run_at`` for
    this run's).

    A fresh measurement replaces a stored one when its part was measured in this run (or it
    belongs to no part, or nothing is stored for it); a step run only to produce the inputs of
    the measured parts does not replace its stored figure, so that each ratio's step and
    baseline always come from the same run.
    """
    merged = dict(stored)
    for key, measured in fresh.items():
        part = part_of(key)
        if part is None or part in parts or key not in stored:
            merged[key] = {**asdict(measured), "measured": run_at}
    return merged


class Bench:
    """Runs workers, keeps the fastest figure of each measurement, logs their output."""

    def __init__(self, work: Path, data: Path) -> None:
        self.work, self.data = work, data
        self.results: dict[str, Measured] = {}
        self.log = (work / "bench.log").open("a")

    def run(
        self, name: str, key: str | None = None, reuse: bool = False, **args: object
    ) -> Measured | None:
        """Run worker ``name`` in a fresh process; keep the fastest figures under ``key``.

        With ``reuse``, a step whose output the work folder holds is not run again.
        """
        key = key or name
        if reuse and key in REUSABLE and Path(REUSABLE[key](self.work)).exists():
            print(f"  {key}: reusing its output")
            return None
        payload = json.dumps({"work": str(self.work), "data": str(self.data), **args})
        command = [sys.executable, str(Path(__file__)), "--worker", name, "--args", payload]
        print(f"  {key} ...", end="", flush=True)
        started = time.monotonic()
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT, check=False, cwd=REPO
        )
        wall = time.monotonic() - started
        self.log.write(f"\n===== {key} ({wall:.1f}s)\n{done.stdout}{done.stderr}")
        self.log.flush()
        if done.returncode != 0:
            print(" failed")
            sys.stderr.write(done.stderr[-4000:])
            raise SystemExit(f"error: {key} failed (see {self.work / 'bench.log'})")
        line = next(x for x in done.stdout.splitlines() if x.startswith(RESULT_PREFIX))
        figures = json.loads(line.removeprefix(RESULT_PREFIX))
        seconds = figures.pop("seconds", wall)
        print(f" {seconds:.2f}s ({wall:.1f}s wall, {figures['max_rss_mb']:,.0f} MB)")
        best = self.results.setdefault(key, Measured(key))
        best.seconds = min(best.seconds, seconds)
        best.wall = min(best.wall, wall)
        best.max_rss_mb = max(best.max_rss_mb, figures.pop("max_rss_mb"))
        best.extra.update(figures)
        return best


def postgres(work: Path) -> tuple[str | None, Callable[[], None]]:
    """Return a PostgreSQL URL (given, or of a server started here) and how to stop it."""
    if os.environ.get(POSTGRES_URL_ENV):
        return os.environ[POSTGRES_URL_ENV], lambda: None
    env_file = work / "test-services.env"
    env = {**os.environ, "BURGER_RECS_TEST_SERVICES_ENV": str(env_file)}

    def stop() -> None:
        subprocess.run(["bash", str(SERVICES), "stop"], env=env, capture_output=True, check=False)

    started = subprocess.run(
        ["bash", str(SERVICES), "start"], env=env, capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        sys.stderr.write(started.stderr[-2000:])
        print("PostgreSQL could not be started: its measurements are skipped")
        stop()
        return None, lambda: None
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    return values[POSTGRES_URL_ENV], stop


def machine(postgres_url: str | None) -> dict[str, str]:
    """Describe the machine, the Python and the databases the figures come from."""
    import sqlite3

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kb = int(_group(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()))
    os_release = Path("/etc/os-release")
    system = (
        _group(r'PRETTY_NAME="([^"]+)"', os_release.read_text())
        if os_release.exists()
        else platform.platform()
    )
    info = {
        "cpu": f"{os.cpu_count()} cores, {cpu}",
        "memory": f"{memory_kb / 1024**2:.0f} GB",
        "system": system,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    if postgres_url:
        import psycopg

        with psycopg.connect(postgres_url) as conn:
            version = _first(conn.execute("SHOW server_version").fetchone())
            settings = {
                name: _first(conn.execute(f"SHOW {name}").fetchone())
                for name in ("fsync", "synchronous_commit")
            }
        info["postgresql"] = f"{version} ({', '.join(f'{k}={v}' for k, v in settings.items())})"
    return info


def main() -> int:
    """Generate the shop, run the measurements, print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000, help="customers (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of the fast pairs")
    parser.add_argument("--repeat-slow", type=int, default=1, help="repeats of train, pipeline")
    parser.add_argument("--shards", type=int, default=3, help="shards of the sharded publish")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"subset of {','.join(PARTS)}")
    parser.add_argument("--work", type=Path, help="work folder (default .local/bench/SCALE)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the docs")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="skip the steps outside --parts whose outputs the work folder already holds",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        figures = worker(options.worker, json.loads(options.args))
        print(RESULT_PREFIX + json.dumps(figures), flush=True)
        return 0

    parts = set(options.parts.split(","))
    if parts - set(PARTS):
        parser.error(f"unknown parts {sorted(parts - set(PARTS))}; choose from {PARTS}")
    scale = options.scale
    work = (options.work or REPO / ".local" / "bench" / str(scale)).resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "steps").mkdir(exist_ok=True)
    data = work / "data"
    load_before = os.getloadavg()
    started = time.monotonic()
    run_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if not (data / f"date={RUN_DATE.isoformat()}").exists():
        from burger_recs.generate import generate_data

        shutil.rmtree(data, ignore_errors=True)
        print(f"generating {scale:,} customers x {ITEMS:,} items x {DAYS} days into {data}")
        t = time.monotonic()
        summary = generate_data(
            data, customers=scale, days=DAYS, items=ITEMS, seed=SEED, end_date=RUN_DATE
        )
        print(f"  {summary.orders:,} orders in {time.monotonic() - t:.1f}s")
    pg_url, stop_postgres = postgres(work)
    bench = Bench(work, data)
    sqlite_url = f"sqlite:///{work / 'recs.db'}"
    try:
        info = machine(pg_url)
        print("steps and baselines (fastest of the repeats is kept):")
        reuse = options.reuse
        bench.run("step:ingest", reuse=reuse and "ingest" not in parts)
        if "ingest" in parts:
            for _ in range(options.repeat):
                bench.run("raw:read_csv")
                bench.run("step:ingest")
        bench.run("step:validate", reuse=reuse)
        for _ in range(options.repeat_slow if "train" in parts else 1):
            if "train" in parts:
                bench.run("raw:train")
            bench.run("step:train", reuse=reuse and "train" not in parts)
        bench.run("step:evaluate", reuse=reuse)
        for _ in range(options.repeat if "recommend" in parts else 1):
            if "recommend" in parts:
                bench.run("raw:recommend")
            bench.run("step:recommend", reuse=reuse and "recommend" not in parts)
        if "publish" in parts:
            shard_files = [
                str(work / "steps" / f"shard-{s}.parquet") for s in range(options.shards)
            ]
            for s, path in enumerate(shard_files):
                bench.run(
                    "step:recommend", f"step:recommend-shard-{s}", out=path, shard=s,
                    shards=options.shards,
                )  # fmt: skip
            databases = [("sqlite", sqlite_url, "raw:executemany")]
            if pg_url:
                databases.insert(0, ("postgresql", pg_url, "raw:copy"))
            for label, url, raw in databases:
                for _ in range(options.repeat):
                    bench.run(raw, f"{raw}:{label}", url=url)
                    bench.run("step:publish", f"step:publish:{label}", url=url)
                    bench.run(
                        "step:sharded-publish", f"step:sharded-publish:{label}", url=url,
                        shards=options.shards, shard_files=shard_files,
                    )  # fmt: skip
        if "pipeline" in parts:
            ddl = _recommendations_ddl()
            for _ in range(options.repeat_slow):
                bench.run("shortest", database=str(work / "shortest.db"), ddl=ddl)
                bench.run("inprocess", url=sqlite_url)
                bench.run(
                    "pipeline", url=f"sqlite:///{work / 'pipeline.db'}", root=str(work / "pipeline")
                )
    finally:
        stop_postgres()
    load_after = os.getloadavg()
    total = time.monotonic() - started
    stored_file = work / "results.json"
    stored = json.loads(stored_file.read_text()) if stored_file.exists() else {}
    merged = merge_results(stored, bench.results, parts, run_at)
    if not options.no_write:
        stored_file.write_text(json.dumps(merged, indent=1))
    earlier = {k: v["measured"][:10] for k, v in merged.items() if v["measured"] != run_at}
    results = {k: Measured(**{f: v[f] for f in v if f != "measured"}) for k, v in merged.items()}
    text = report(results, scale, info, options, (load_before, load_after), total, earlier)
    print()
    print(text)
    if not options.no_write:
        write_section(DOC, scale, text)
        print(f"written to {DOC.relative_to(REPO)}")
    return 0


# A 5-minute load average above this before the benchmark starts means others use the machine.
SHARED_LOAD = 0.5
TARGETS = {
    "train": 1.1,
    "recommend": 1.3,
    "publish:postgresql": 1.3,
    "publish:sqlite": 1.3,
    "pipeline": 1.5,
    "pipeline:shortest": 1.5,
}


def report(
    results: dict[str, Measured],
    scale: int,
    info: dict[str, str],
    options: argparse.Namespace,
    load: tuple[tuple[float, ...], tuple[float, ...]],
    total: float,
    earlier: dict[str, str] | None = None,
) -> str:
    """Return the Markdown section for one scale: machine, command, date and the tables.

    ``earlier`` maps the measurements kept from earlier runs to the day they were taken.
    """
    r = results.get
    command = f"make bench SCALE={scale}"
    lines = [
        f"### {scale:,} customers x {ITEMS:,} items",
        "",
        f"`{command}` on {dt.datetime.now(dt.UTC):%Y-%m-%d} ({total / 60:.1f} min in all, "
        f"fastest of {options.repeat} repeats, {options.repeat_slow} for train and the "
        "pipeline).",
        "",
        f"Machine: {info['cpu']}, {info['memory']}, {info['system']}; Python {info['python']}, "
        f"SQLite {info['sqlite']}"
        + (f", PostgreSQL {info['postgresql']}" if "postgresql" in info else "")
        + f". Load average (1/5/15 min) {' / '.join(f'{x:.1f}' for x in load[0])} before the "
        f"benchmark, {' / '.join(f'{x:.1f}' for x in load[1])} after it"
        + (
            ": the machine was shared, other work ran beside the benchmark."
            if load[0][1] > SHARED_LOAD
            else "."
        ),
    ]
    if earlier:
        kept = sorted({part_of(k) or k.split(":", 1)[-1] for k in earlier})
        days = ", ".join(sorted(set(earlier.values())))
        lines += [
            "",
            f"This run measured {options.parts.replace(',', ', ')}; the figures of "
            f"{', '.join(kept)} are kept from the earlier run of {days} (each ratio's step and "
            "baseline still come from one run).",
        ]
    lines += [
        "",
        "| ratio (same run) | step s | baseline s | ratio | target | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    pairs = [
        ("train / raw `LightFM.fit` (both models at once)", "step:train", "raw:train", "train"),
        (
            "recommend / numpy matmul + argpartition",
            "step:recommend",
            "raw:recommend",
            "recommend",
        ),
        (
            "publish / psycopg `COPY` (PostgreSQL)",
            "step:publish:postgresql",
            "raw:copy:postgresql",
            "publish:postgresql",
        ),
        (
            "publish / `executemany` (SQLite)",
            "step:publish:sqlite",
            "raw:executemany:sqlite",
            "publish:sqlite",
        ),
        (
            f"sharded publish ({options.shards} stages + commit) / `COPY` (PostgreSQL)",
            "step:sharded-publish:postgresql",
            "raw:copy:postgresql",
            None,
        ),
        (
            f"sharded publish ({options.shards} stages + commit) / `executemany` (SQLite)",
            "step:sharded-publish:sqlite",
            "raw:executemany:sqlite",
            None,
        ),
        ("embedded pipeline / same steps in one process", "pipeline", "inprocess", "pipeline"),
        (
            "pipeline / shortest way (read, one fit, top-k, one transaction)",
            "pipeline",
            "shortest",
            "pipeline:shortest",
        ),
        ("ingest / `pandas.read_csv` of the same files", "step:ingest", "raw:read_csv", None),
    ]
    for label, step, base, target_key in pairs:
        a, b = r(step), r(base)
        if a is None or b is None:
            continue
        value = a.seconds / b.seconds
        target = TARGETS.get(target_key) if target_key else None
        verdict = "" if target is None else ("met" if value <= target else "**missed**")
        target_text = f"<= {target}" if target else "-"
        lines.append(
            f"| {label} | {a.seconds:.2f} | {b.seconds:.2f} | {value:.2f} | {target_text} "
            f"| {verdict} |"
        )
    lines += ["", "| step | s | peak RSS MB | throughput |", "|---|---:|---:|---|"]
    customers = (r("raw:recommend") or Measured("")).extra.get("customers", scale)
    rows = (r("raw:copy:postgresql") or r("raw:executemany:sqlite") or Measured("")).extra.get(
        "rows"
    )
    for key, label in (
        ("step:ingest", "ingest"),
        ("step:validate", "validate"),
        ("step:train", "train"),
        ("step:evaluate", "evaluate"),
        ("step:recommend", "recommend"),
        ("step:publish:postgresql", "publish (PostgreSQL)"),
        ("step:publish:sqlite", "publish (SQLite)"),
        ("step:sharded-publish:postgresql", "stage x shards + commit (PostgreSQL)"),
        ("step:sharded-publish:sqlite", "stage x shards + commit (SQLite)"),
        ("step:recommend-shard-0", f"recommend, shard 0 of {options.shards}"),
        ("raw:train", "raw LightFM.fit"),
        ("raw:recommend", "raw matmul + argpartition"),
        ("raw:copy:postgresql", "raw COPY"),
        ("raw:executemany:sqlite", "raw executemany"),
        ("inprocess", "the six steps in one process (wall)"),
        ("shortest", "the shortest way, one process (wall)"),
    ):
        m = r(key)
        if m is None:
            continue
        throughput = ""
        if "recommend" in key and "shard" not in key:
            throughput = f"{customers / m.seconds:,.0f} customers/s"
        elif rows and ("publish" in key or "copy" in key or "executemany" in key):
            throughput = f"{rows / m.seconds:,.0f} rows/s"
        lines.append(f"| {label} | {m.seconds:.2f} | {m.max_rss_mb:,.0f} | {throughput} |")
    if rows:
        lines += ["", f"{rows:,} recommendation rows ({customers:,} customers x {K})."]
    return "\n".join(lines)


def write_section(doc: Path, scale: int, text: str) -> None:
    """Put ``text`` between the scale's markers in ``doc`` (appended when they are missing)."""
    begin, end = f"<!-- bench:{scale} -->", f"<!-- /bench:{scale} -->"
    content = doc.read_text()
    block = f"{begin}\n{text}\n{end}"
    if begin in content and end in content:
        head, rest = content.split(begin, 1)
        content = head + block + rest.split(end, 1)[1]
    else:
        content = content.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(content)


if __name__ == "__main__":
    sys.exit(main())
