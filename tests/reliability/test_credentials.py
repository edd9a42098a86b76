"""Guarantee 6 (credentials): no credential in compiled IR, manifests, logs or pipeline_runs.

The compiled pipeline runs against PostgreSQL with a password in ``DATABASE_URL``: once
published, once failing at publish on a wrong password, once failing at validate (whose
failure is recorded in ``pipeline_runs``). Then every file of those runs (logs, arguments,
artifacts), the compiled IR, the manifests and every row of the output tables are scanned
for passwords in URLs, connection-string passwords, private keys and the two passwords
themselves. The images are scanned by tests/containers/test_security.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from burger_recs import db
from burger_recs.contract import metadata
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.pipelines.local_run import RunFailed, run_pipeline
from burger_recs.runs import recent_runs
from tests.support import figures, scan
from tests.support.database import drop_tables
from tests.support.pipeline import RUN_DATE, day_arguments

REPO = Path(__file__).resolve().parents[2]
WRONG_PASSWORD = "wrong-Pa55word-for-the-scan"  # a test value, meant to be looked for
# The one place a manifest may hold a password: the kind cluster's overlay, in a file that
# marks its Secrets dev-only (a throwaway database on a laptop).
DEV_OVERLAY = "manifests/overlays/dev/"
DEV_ONLY_MARK = 'burger-recs/dev-only-credentials: "true"'
SECRET_NAMES = re.compile(r"(?i)password|passwd|secret|token|credential|database_url|dsn|_key$")


def test_the_scanner_finds_what_it_looks_for():
    planted = {
        "postgresql://burger:s3cret@db:5432/recs": True,
        "postgresql+psycopg://burger:p%40ss@127.0.0.1/recs": True,
        "host=db user=burger password=s3cret dbname=recs": True,
        "      - POSTGRES_PASSWORD=s3cret": True,
        "  API_TOKEN: 'abc123'": True,
        "      - POSTGRES_PASSWORD=$(DB_PASSWORD)": False,
        "    - name: POSTGRES_PASSWORD\n      valueFrom:": False,
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n": True,
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u\n": True,
        "postgresql://burger:***@db:5432/recs": False,
        "postgresql://burger@db/recs": False,
        "sqlite:////data/recs.db": False,
        "gs://shop-drops/daily": False,
        'if raw.startswith(b"-----BEGIN PRIVATE KEY-----"):': False,
    }
    for text, leaky in planted.items():
        assert bool(scan.findings(text)) == leaky, text
    assert scan.findings("x-s3cret-x", secrets=["s3cret"])


def test_the_compiled_pipeline_takes_no_credential_and_holds_none():
    specs = _compiled_specs()
    scanned, leaks = scan.scan_paths(specs)
    assert leaks == {}
    for spec in specs:
        for document in yaml.safe_load_all(spec.read_text()):
            params = (document or {}).get("root", {}).get("inputDefinitions", {})
            names = [n for n in params.get("parameters", {}) if SECRET_NAMES.search(n)]
            assert names == [], f"{spec.name}: a credential must not be a parameter: {names}"
    figures.add("credential scan", **{"compiled IR files clean": scanned})


def test_manifests_hold_no_credential_but_the_dev_clusters_own(tmp_path):
    """Only the kind overlay may hold a password, for its throwaway database, if it says so.

    A file under manifests/overlays/dev/ that marks its Secrets dev-only may give the dev
    database's password; that password must then reach no other manifest and not the
    compiled pipeline. Anything else in manifests/ must be free of credentials.
    """
    manifests = REPO / "manifests"
    files = sorted(p for p in manifests.rglob("*") if p.is_file()) if manifests.is_dir() else []
    if not files:
        pytest.skip("no manifests in this checkout")
    scanned, leaks = scan.scan_paths(files)
    dev_only = {str(f) for f in files if _declares_dev_only(f)}
    assert {f: found for f, found in leaks.items() if f not in dev_only} == {}
    dev_secrets = set()
    for file in dev_only:
        dev_secrets |= scan.secret_values(Path(file).read_text())
    others = [f for f in files if str(f) not in dev_only] + _compiled_specs()
    assert scan.scan_paths(others, dev_secrets)[1] == {}
    figures.add(
        "credential scan",
        **{"manifest files clean": scanned - len(dev_only)},
        **{"dev-only manifest files (kind)": len(dev_only)},
    )


def _compiled_specs() -> list[Path]:
    specs = sorted((REPO / "pipelines" / "compiled").glob("*.yaml"))
    assert specs
    return specs


def _declares_dev_only(path: Path) -> bool:
    relative = path.relative_to(REPO).as_posix()
    return relative.startswith(DEV_OVERLAY) and DEV_ONLY_MARK in path.read_text(errors="replace")


@pytest.fixture(scope="module")
def runs_with_a_password(postgres_url, shop_data, tmp_path_factory):
    """Runs against PostgreSQL with a password: published, wrong password, bad input."""
    password = sa.make_url(postgres_url).password
    assert password, "the test database URL has no password to look for"
    engine = db.make_engine(postgres_url)
    drop_tables(engine)  # run_pipeline migrates it again
    root = tmp_path_factory.mktemp("password-runs")
    broken = root / "broken"
    shutil.copytree(shop_data, broken)
    (broken / f"date={RUN_DATE}" / "orders.csv").write_text("order_id;customer_id\n1;2\n")
    arguments = day_arguments(shop_data)
    results = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", postgres_url)  # run_pipeline sets it; put back afterwards
        results["published"] = run_pipeline(
            compiled_pipeline(),
            {**arguments, "quality_margin": -1.0},
            postgres_url,
            root,
            quiet=True,
        )
        with pytest.raises(RunFailed) as failure:
            run_pipeline(
                compiled_pipeline(),
                {**arguments, "data_uri": str(broken)},
                postgres_url,
                root,
                quiet=True,
            )
        results["bad input"] = failure.value.result
    results["wrong password"] = _publish_step_with_a_wrong_password(
        results["published"], postgres_url, root / "runs" / "wrong-password.log"
    )
    yield engine, root, [password, WRONG_PASSWORD], results
    engine.dispose()


def _publish_step_with_a_wrong_password(published, url: str, log: Path) -> str:
    """Run the publish step on the published run's artifacts, with a wrong password.

    The step itself, as its container runs it, rather than the whole pipeline: the compiled
    pipeline retries the publish task with minutes of backoff.
    """
    wrong = sa.make_url(url).set(password=WRONG_PASSWORD).render_as_string(hide_password=False)
    inputs = [
        str(published.artifact("recommend", "recommendations")),
        str(published.artifact("validate", "validated")),
        str(published.artifact("evaluate", "evaluation")),
    ]
    code = (
        "import sys; from burger_recs.steps import publish; "
        "publish.run(*sys.argv[1:4], 'lightfm-x', 'wrong-password-run', 'data')"
    )
    env = {**os.environ, "DATABASE_URL": wrong, db.RETRY_SECONDS_ENV: "5"}
    done = subprocess.run(
        [sys.executable, "-c", code, *inputs], env=env, capture_output=True, text=True, check=False
    )
    log.write_text(done.stdout + done.stderr)
    assert done.returncode != 0
    return done.stdout + done.stderr


@pytest.mark.postgres
@pytest.mark.slow  # three kfp.local pipeline runs
def test_the_runs_did_what_they_should(runs_with_a_password):
    engine, _, _, results = runs_with_a_password
    assert results["published"].status == "published"
    assert "password authentication failed" in results["wrong password"]
    assert "Inner task failed: 'validate'" in results["bad input"].message
    statuses = {r.run_id: r.status for r in recent_runs(engine)}
    assert statuses == {
        results["published"].run_id: "published",
        results["bad input"].run_id: "failed",
    }


@pytest.mark.postgres
@pytest.mark.slow  # three kfp.local pipeline runs
def test_no_credential_in_run_logs_artifacts_or_the_database(runs_with_a_password):
    engine, root, secrets, _ = runs_with_a_password
    scanned, leaks = scan.scan_paths([root / "runs"], secrets)
    assert scanned > 20
    assert leaks == {}
    rows = 0
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)).mappings():
                text = json.dumps(dict(row), default=str)
                assert scan.findings(text, secrets) == [], (table.name, text[:300])
                rows += 1
    assert rows > 0
    figures.add(
        "credential scan",
        **{"run files clean": scanned},
        **{"database rows clean": rows},
    )
