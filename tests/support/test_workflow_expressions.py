"""The GitHub Actions expression evaluator the workflow tests use, against GitHub's rules."""

import pytest

from tests.support.workflow_expressions import (
    EmptyWhenUnset,
    condition,
    evaluate,
    interpolate,
)

CONTEXTS = {
    "github": {"event_name": "push", "ref": "refs/heads/main", "run_id": 12},
    "vars": EmptyWhenUnset({"REGION": "eu"}),
    "secrets": EmptyWhenUnset(),
    "env": {"EMPTY": ""},
}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("${{ 'it''s' }}", "it's"),
        ("  ${{ 42 }} ", 42),
        ("1.5", 1.5),
        ("0xff", 255),
        ("null", None),
        ("github.event_name", "push"),
        ("GITHUB.Event_Name", "push"),  # contexts ignore case
        ("github.missing", None),
        ("vars.REGION", "eu"),
        ("vars.UNSET", ""),  # an unset variable or secret reads as ''
        ("secrets.UNSET || 'fallback'", "fallback"),
        ("vars.REGION || 'fallback'", "eu"),
        ("env.EMPTY && 'x'", ""),  # && and || return an operand
        ("'a' && 'b'", "b"),
        ("github.ref == 'REFS/HEADS/MAIN'", True),  # strings compare ignoring case
        ("github.run_id == '12'", True),  # other types compare as numbers
        ("null == 0", True),
        ("'' == false", True),
        ("'abc' == 0", False),  # NaN equals nothing
        ("'abc' != 0", True),
        ("!env.EMPTY", True),
        ("!(github.event_name == 'push')", False),
        ("false && true || true", True),  # && binds tighter than ||
        ("false && (true || true)", False),
        ("format('ci-{0}-{1} {{0}}', github.run_id, 'x')", "ci-12-x {0}"),
    ],
)
def test_values(expression, value):
    assert evaluate(expression, CONTEXTS) == value


@pytest.mark.parametrize(
    ("expression", "status", "holds"),
    [
        ("github.event_name == 'push'", "success", True),
        ("github.event_name == 'push'", "failure", False),  # success() && is implied
        ("${{ always() }}", "failure", True),
        ("always()", "cancelled", True),
        ("failure()", "failure", True),
        ("failure()", "success", False),
        ("success()", "success", True),
        ("cancelled()", "cancelled", True),
        ("failure() && github.event_name == 'pull_request'", "failure", False),
        ("${{ false }} and text", "success", True),  # text around ${{ }}: a non-empty string
        (True, "success", True),
    ],
)
def test_conditions(expression, status, holds):
    assert condition(expression, CONTEXTS, status) is holds


def test_interpolation_writes_values_as_strings():
    text = "run ${{ github.run_id }} on ${{ github.ref }}: ${{ vars.UNSET }}${{ true }}"
    assert interpolate(text, CONTEXTS) == "run 12 on refs/heads/main: true"


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("github.ref < 'x'", SyntaxError),
        ("github.event_name ==", SyntaxError),
        ("(true", SyntaxError),
        ("contains(github.ref, 'main')", NameError),
        ("steps.build.outcome", NameError),
    ],
)
def test_what_is_not_supported_is_refused(expression, error):
    with pytest.raises(error):
        evaluate(expression, CONTEXTS)
