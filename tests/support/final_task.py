"""The pipeline's final task run as KFP runs it: the real component, with each runner's status.

``run_final_task`` runs the ``finish`` component (components/finish.py) through the kfp SDK's
own executor (``kfp.dsl.executor.Executor``, the code a step's container runs), with its
``dsl.PipelineTaskFinalStatus`` input exactly as each runner builds it, in kubeflow/pipelines
at tag 2.17.0:

- the 2.17 driver (``backend/src/v2/driver/resolve.go``, TaskFinalStatus): protojson of
  ``PipelineTaskFinalStatus`` with the producer's MLMD state name, the producer task's name,
  the run's name and an empty error; KFP's cluster test
  (``test_data/sdk_compiled_pipelines/valid/critical/pipeline_with_input_status_state.py``)
  asserts ``COMPLETE`` and ``exit-handler-1`` for a group that succeeded;
- kfp.local (``sdk/python/kfp/local/orchestrator/orchestrator_utils.py``): snake_case keys,
  ``SUCCEEDED`` or ``FAILED``, and an error code and message when it failed.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from kfp.dsl.executor import Executor

from burger_recs.components.finish import finish
from burger_recs.kfp_words import EXIT_HANDLER_TASK

DRIVER, LOCAL = "driver", "kfp.local"


def final_status(runner: str, state: str, run_name: str, task: str = EXIT_HANDLER_TASK) -> dict:
    """Return the status struct ``runner`` hands the final task for ``task`` ending ``state``."""
    if runner == DRIVER:
        return {
            "state": state,
            "pipelineJobResourceName": run_name,
            "pipelineTaskName": task,
            "error": {},  # "TODO: Implement fields Message and Code" (resolve.go, 2.17.0)
        }
    error = {"code": 1, "message": f"Task {task} failed."} if state == "FAILED" else {}
    return {
        "state": state,
        "pipeline_job_resource_name": f"local-pipeline-{task}",
        "pipeline_task_name": task,
        "error": error,
    }


def run_final_task(
    status: dict,
    run_id: str,
    orchestrator_run_id: str,
    run_date: str = "",
    data_uri: str = "gs://shop/drops",
    scheduled_at: str = "",
    day_closes_at: str = "00:00",
    created_at: str = "",
    gated_days_to_alert: int = 3,
) -> str:
    """Run the finish component with ``status``; return its output (the run's status).

    The database and the webhook come from the environment, as on every runner.
    """
    parameters = {
        "status": status,
        "run_id": run_id,
        "orchestrator_run_id": orchestrator_run_id,
        "run_date": run_date,
        "scheduled_at": scheduled_at,
        "day_closes_at": day_closes_at,
        "created_at": created_at,
        "data_uri": data_uri,
        "gated_days_to_alert": gated_days_to_alert,
    }
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "executor_output.json"
        executor_input = {
            "inputs": {"parameterValues": parameters},
            "outputs": {
                "parameters": {"Output": {"outputFile": str(Path(folder) / "Output")}},
                "outputFile": str(output),
            },
        }
        Executor(executor_input, function_to_execute=finish).execute()
        return json.loads(output.read_text())["parameterValues"]["Output"]
