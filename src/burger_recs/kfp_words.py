"""What KFP's runners tell the pipeline's final task, per runner, each with its upstream source.

The final task (:mod:`burger_recs.steps.finish`) receives ``dsl.PipelineTaskFinalStatus`` for
the group of steps under ``dsl.ExitHandler``. The runners word it differently, so the task
decides how a run ended from the project's own records (the run's ``pipeline_runs`` row and
its failure notes); these words only add to its message. Sources: kubeflow/pipelines at tag
2.17.0, the version pinned here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Meaning(enum.StrEnum):
    """What a runner means by a final state."""

    SUCCEEDED = "the group succeeded"
    FAILED = "a task of the group failed"
    UNREPORTED = "no task said how it ended"


@dataclass(frozen=True)
class FinalState:
    """One word a runner gives as ``PipelineTaskFinalStatus.state``.

    Attributes:
        runner: who says it.
        word: the state, as the final task receives it.
        meaning: what the runner means by it.
        source: where upstream says it (and, for a cluster, the test that asserts it there).
    """

    runner: str
    word: str
    meaning: Meaning
    source: str


VERIFIED_KFP = "2.17.0"
"""The Kubeflow Pipelines release whose source every behaviour here was read at (the SDK is
pinned to it too; docs/kfp-behaviours.md): the schedule's reconciler refuses another."""
KFP_LOCAL = "kfp.local 2.17.0"
DRIVER = "KFP 2.17.0 on a cluster (driver)"

FINAL_STATES: tuple[FinalState, ...] = (
    FinalState(
        KFP_LOCAL,
        "SUCCEEDED",
        Meaning.SUCCEEDED,
        "sdk/python/kfp/local/orchestrator/enhanced_dag_orchestrator.py (put_task_status) and "
        "orchestrator_utils.py (task_final_status: SUCCEEDED also when no status is stored)",
    ),
    FinalState(
        KFP_LOCAL, "FAILED", Meaning.FAILED, "the same files: a task or a group that failed"
    ),
    FinalState(
        DRIVER,
        "COMPLETE",
        Meaning.SUCCEEDED,
        "backend/src/v2/driver/resolve.go (TaskFinalStatus: the producer's MLMD "
        "GetLastKnownState().String()), dag.go (a DAG's execution: Execution_COMPLETE); "
        "asserted on a cluster by test_data/sdk_compiled_pipelines/valid/critical/"
        "pipeline_with_input_status_state.py (state COMPLETE, task exit-handler-1)",
    ),
    FinalState(
        DRIVER,
        "FAILED",
        Meaning.FAILED,
        "backend/src/v2/component/launcher_v2.go and driver/dag.go (Execution_FAILED)",
    ),
    FinalState(
        DRIVER,
        "RUNNING",
        Meaning.UNREPORTED,
        "backend/src/v2/metadata/client.go (an execution is created RUNNING): a pod killed "
        "before its launcher reports (OOM, image pull) leaves it so",
    ),
)

SUCCEEDED_WORDS = frozenset(s.word for s in FINAL_STATES if s.meaning is Meaning.SUCCEEDED)
"""The words by which some runner means the steps succeeded."""
FAILED_WORDS = frozenset(s.word for s in FINAL_STATES if s.meaning is Meaning.FAILED)
"""The words by which some runner means a step failed."""

EXIT_HANDLER_TASK = "exit-handler-1"
"""The task the final status names: the ExitHandler's group as both runners name it
(``PipelineTaskFinalStatus.pipeline_task_name``; the cluster test above asserts it)."""
