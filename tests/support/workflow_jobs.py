"""A job of a GitHub Actions workflow, run here with stand-ins for every command it calls.

``run_job(workflow, job, tmp_path, push("main"))`` does what a runner does with the job's
``run`` steps, and nothing the commands themselves would do:

- the job's ``if`` is evaluated (tests/support/workflow_expressions.py) with the needed
  jobs' result; a false one skips the job;
- each step's ``if`` is evaluated with the job's status so far (``success()`` implied), so a
  failed step skips the steps after it unless they ask for ``failure()`` or ``always()``;
- ``uses:`` steps are skipped (actions are not run here);
- a ``run`` script, its ``${{ }}`` interpolated, runs with ``bash --noprofile --norc -eo
  pipefail`` (GitHub's ``shell: bash``) in a workspace folder, with the workflow's, job's and
  step's ``env`` evaluated and GitHub's default variables (GITHUB_SHA, GITHUB_REF...);
- PATH holds stubs for ``STUBS`` (make, git, gh, docker, kubectl...) and a few harmless tools
  (``TOOLS``); nothing else is found, so no real command can change anything. Stubs for
  relative paths (``.venv/bin/python``) are put in the workspace. Each stub records its
  argv, its standard input and its environment, then exits 0, or the code ``exit_codes``
  gives the first prefix of its command line that matches (``{"git diff": 1}``).

The result lists the calls in order (``JobRun.commands()`` as command lines) and each step's
outcome.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.workflow_expressions import EmptyWhenUnset, condition, interpolate

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
STUBS = ("make", "git", "gh", "docker", "kubectl")
STUBS += (".venv/bin/python", ".venv/bin/kubectl", "bin/kubectl")  # in the workspace
TOOLS = ("cat", "tail", "head", "grep", "sed", "sort", "tr", "wc", "true", "false")
SHA = "4e5d6c7b8a9f0123456789abcdef0123456789ab"
BASH = shutil.which("bash") or "/bin/bash"
# The stubs' log: a call's parts (argv, stdin, environment) are separated by _PART, a part's
# items end with _FIELD, a call ends with _CALL; one printf writes a whole call.
_FIELD, _PART, _CALL = "\x1f", "\x1d", "\x1e"
_STUB = r"""#!{bash}
# A stub (tests/support/workflow_jobs.py): records its call, then exits as configured.
input=$(</dev/stdin)
call={name}$'\x1f'
for arg in "$@"; do call+="$arg"$'\x1f'; done
call+=$'\x1d'"$input"$'\x1d'
for var in $(compgen -e); do call+="$var=${{!var}}"$'\x1f'; done
printf '%s\x1e' "$call" >> {log}
case "$*" in
{cases}
esac
exit 0
"""


def load(name):
    """The workflow .github/workflows/NAME as data, with its triggers under "on"."""
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in workflow:  # YAML 1.1 reads the key `on` as true
        workflow["on"] = workflow.pop(True)
    return workflow


def github(event_name, ref, sha=SHA, **extra):
    """A ``github`` context for EVENT_NAME on REF."""
    return {
        "event_name": event_name,
        "ref": ref,
        "ref_name": ref.split("/", 2)[-1],
        "sha": sha,
        "repository": "example/burger-recs",
        "run_id": 4242,
        "run_attempt": 1,
        "token": "stub-github-token",
        **extra,
    }


def push(branch="main", **extra):
    """The ``github`` context of a push to BRANCH."""
    return github("push", f"refs/heads/{branch}", **extra)


def pull_request(number=7, **extra):
    """The ``github`` context of a pull request's run (on its merge ref)."""
    return github("pull_request", f"refs/pull/{number}/merge", **extra)


def contexts(github, vars=None, secrets=None, env=None):
    """The contexts expressions read; unset vars and secrets read as ''."""
    return {
        "github": github,
        "vars": EmptyWhenUnset(vars or {}),
        "secrets": EmptyWhenUnset(secrets or {}),
        "env": dict(env or {}),
    }


@dataclass(frozen=True)
class Call:
    """One call of a stubbed command."""

    argv: tuple[str, ...]  # argv[0] as stubbed: "make", ".venv/bin/python"
    stdin: str
    env: Mapping[str, str]

    def __str__(self) -> str:
        return shlex.join(self.argv)


@dataclass
class StepRun:
    """What became of one step: ran (with its exit code and output) or skipped, and why."""

    name: str
    ran: bool
    exit_code: int | None = None
    output: str = ""
    skipped_because: str = ""


@dataclass
class JobRun:
    """A job's result ("success", "failure" or "skipped"), its steps and the calls made."""

    result: str
    steps: list[StepRun] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def commands(self) -> list[str]:
        """The calls as command lines (shell-quoted), in order."""
        return [str(call) for call in self.calls]

    def called(self, prefix: str) -> list[Call]:
        """The calls whose command line starts with PREFIX (whole words)."""
        return [c for c in self.calls if f"{c} ".startswith(f"{prefix} ")]

    def position(self, prefix: str) -> int:
        """The index of the first call starting with PREFIX; fails when there is none."""
        for index, call in enumerate(self.calls):
            if f"{call} ".startswith(f"{prefix} "):
                return index
        raise AssertionError(f"no call of {prefix!r} in:\n" + "\n".join(self.commands()))

    def step(self, name: str) -> StepRun:
        """The step named NAME."""
        (found,) = [s for s in self.steps if s.name == name]
        return found


def run_job(
    workflow: Mapping[str, Any],
    job_id: str,
    workdir: Path,
    github: Mapping[str, Any],
    *,
    vars: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    needs: str = "success",
    exit_codes: Mapping[str, int] | None = None,
) -> JobRun:
    """Run JOB_ID of WORKFLOW for the event GITHUB describes (see the module's docstring).

    NEEDS is the result of the jobs it needs; EXIT_CODES the stubs' exit codes by command-line
    prefix (0 for every other call).
    """
    job, workdir = workflow["jobs"][job_id], Path(workdir)
    ctx = contexts(github, vars, secrets)
    if not condition(job.get("if", "success()"), ctx, needs):
        return JobRun("skipped")
    workspace, log = _prepare(workdir, exit_codes or {})
    base_env = {
        "PATH": f"{workdir / 'stubs'}:{workdir / 'tools'}",
        "HOME": str(workdir / "home"),
        "LANG": "C.UTF-8",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": github["event_name"],
        "GITHUB_REF": github["ref"],
        "GITHUB_REF_NAME": github["ref_name"],
        "GITHUB_SHA": github["sha"],
        "GITHUB_REPOSITORY": github["repository"],
        "GITHUB_RUN_ID": str(github["run_id"]),
        "GITHUB_WORKSPACE": str(workspace),
    }
    env = _evaluate_env(workflow.get("env"), ctx, {})
    env = _evaluate_env(job.get("env"), ctx, env)
    run = JobRun("success")
    for number, step in enumerate(job["steps"]):
        name = step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0]
        status = "success" if run.result == "success" else "failure"
        step_ctx = {**ctx, "env": env}
        if "uses" in step:
            run.steps.append(StepRun(name, ran=False, skipped_because="uses: an action"))
        elif not condition(step.get("if", "success()"), step_ctx, status):
            run.steps.append(StepRun(name, ran=False, skipped_because=f"if: ({status})"))
        else:
            if step.get("shell", "bash") != "bash" or "working-directory" in step:
                raise NotImplementedError(f"step {name!r}: only bash in the workspace")
            step_env = _evaluate_env(step.get("env"), step_ctx, env)
            script = workdir / "scripts" / f"{number}.sh"
            script.write_text(interpolate(step["run"], {**ctx, "env": step_env}))
            done = subprocess.run(
                [BASH, "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=workspace,
                env={**base_env, **step_env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=30,
            )
            run.steps.append(StepRun(name, True, done.returncode, done.stdout))
            if done.returncode != 0 and not step.get("continue-on-error"):
                run.result = "failure"
    run.calls = _read_calls(log)
    return run


def _evaluate_env(values, ctx, env):
    """ENV updated with VALUES, each evaluated (a later value may read ``env.`` earlier ones)."""
    out = dict(env)
    for name, value in (values or {}).items():
        out[name] = interpolate(str(value), {**ctx, "env": out}) if value is not None else ""
    return out


def _prepare(workdir: Path, exit_codes: Mapping[str, int]) -> tuple[Path, Path]:
    """The workspace, the stubs and tools folders, and the calls' log; returns workspace, log."""
    workspace, stubs, tools, log = (workdir / n for n in ("workspace", "stubs", "tools", "calls"))
    for folder in (workspace, stubs, tools, workdir / "home", workdir / "scripts"):
        folder.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)  # a folder may serve more than one run
    for tool in TOOLS:
        if found := shutil.which(tool):
            (tools / tool).unlink(missing_ok=True)
            (tools / tool).symlink_to(found)
    unknown = {prefix.split()[0] for prefix in exit_codes} - set(STUBS)
    assert not unknown, f"exit codes for commands that have no stub: {unknown}"
    for name in STUBS:
        path = (workspace if "/" in name else stubs) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_stub(name, log, exit_codes))
        path.chmod(0o755)
    return workspace, log


def _stub(name: str, log: Path, exit_codes: Mapping[str, int]) -> str:
    """A bash script recording its call into LOG, exiting as EXIT_CODES says for NAME."""
    cases = []
    for prefix, code in exit_codes.items():
        command, _, args = prefix.partition(" ")
        if command == name:
            pattern = f"{shlex.quote(args)}|{shlex.quote(args + ' ')}*" if args else "*"
            cases.append(f"  {pattern}) exit {int(code)} ;;")
    return _STUB.format(
        bash=BASH, name=shlex.quote(name), log=shlex.quote(str(log)), cases="\n".join(cases)
    )


def _read_calls(log: Path) -> list[Call]:
    if not log.exists():
        return []
    calls = []
    for record in log.read_text().split(_CALL)[:-1]:
        argv, stdin, env = record.split(_PART)
        variables = dict(v.split("=", 1) for v in env.split(_FIELD)[:-1])
        calls.append(Call(tuple(argv.split(_FIELD)[:-1]), stdin, variables))
    return calls
