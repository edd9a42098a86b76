"""The dev cluster and any KFP: compile, build the images, submit, retry, reconcile the schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from burger_recs.cli.common import (
    ExtraCaOption,
    HostOption,
    KubeContextOption,
    KubectlOption,
    ParamOption,
    PythonImageOption,
    RegistryOption,
    RunDateOption,
    TimeoutOption,
    UiOption,
    WaitOption,
    app,
    day_and_params,
    fail,
    show,
    up_to_date,
)
from burger_recs.deploy import (
    DEFAULT_PYTHON_IMAGE,
    DEV_DATA_URI,
    DEV_HOST,
    DEV_UI,
    pull_secrets,
)
from burger_recs.deploy.schedule import command as reconcile_schedule_command
from burger_recs.deploy.watch import command as watch_day_command
from burger_recs.pipelines.compile import compiled_pipeline
from burger_recs.version import code_version


@app.command("compile")
def compile_command(
    output: Annotated[
        Path | None, typer.Option(help="Where to write the IR (default: the checked-in file).")
    ] = None,
) -> None:
    """Compile the pipeline to KFP IR (pipelines/compiled/ is checked in)."""
    from burger_recs.pipelines.compile import compile_pipeline

    target = output or compiled_pipeline()
    compile_pipeline(target)
    typer.echo(f"compiled {show(target)}")


@app.command("submit")
def submit_command(
    host: HostOption = DEV_HOST,
    ui: UiOption = DEV_UI,
    registry: RegistryOption = None,
    data: Annotated[
        str, typer.Option(help="Data root (default: the dev cluster's GCS emulator).")
    ] = DEV_DATA_URI,
    run_date: RunDateOption = None,
    param: ParamOption = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = 7200,
    kubectl: KubectlOption = "kubectl",
    kube_context: KubeContextOption = None,
    image_pull_secret: pull_secrets.Option = None,
) -> None:
    """Upload the compiled pipeline to Kubeflow Pipelines and start a run (make submit)."""
    from burger_recs.deploy import submit as kfp
    from burger_recs.deploy.kfp_api import KfpApi, KfpError
    from burger_recs.pipelines.compile import compiled_pipeline, retarget_images

    pipeline_file = up_to_date(compiled_pipeline())
    day, params = day_and_params(run_date, param, pipeline_file)
    ir_text = pipeline_file.read_text()
    if registry:
        ir_text = retarget_images(ir_text, registry)
    arguments = {"data_uri": data, "run_date": day.isoformat(), **params}
    typer.echo(f"submitting {pipeline_file.name} for {day} on {data} to {host}", err=True)
    try:
        run = kfp.submit(
            KfpApi(host),
            ir_text,
            arguments,
            code_version(),
            ui,
            typer.echo,
            wait=wait,
            fetch_logs=kfp.kubectl_logs(kubectl, kube_context),
            timeout_seconds=timeout,
            image_pull_secrets=image_pull_secret or (),
        )
    except KfpError as exc:
        raise fail(str(exc)) from None
    if wait and run.get("state") != "SUCCEEDED":
        raise typer.Exit(code=1)


@app.command("retry")
def retry_command(
    run_id: Annotated[str, typer.Argument(help="The id of the failed run (submit prints it).")],
    host: HostOption = DEV_HOST,
    ui: UiOption = DEV_UI,
    wait: WaitOption = False,
    timeout: TimeoutOption = 7200,
    kubectl: KubectlOption = "kubectl",
    kube_context: KubeContextOption = None,
) -> None:
    """Retry a failed run on Kubeflow Pipelines: its failed steps run again, in the same run."""
    from burger_recs.deploy import submit as kfp
    from burger_recs.deploy.kfp_api import KfpApi, KfpError

    typer.echo(f"retrying run {run_id} at {host}", err=True)
    try:
        run = kfp.retry(
            KfpApi(host),
            run_id,
            kfp.step_order(compiled_pipeline().read_text()),
            ui,
            typer.echo,
            wait=wait,
            fetch_logs=kfp.kubectl_logs(kubectl, kube_context),
            timeout_seconds=timeout,
        )
    except KfpError as exc:
        raise fail(str(exc)) from None
    if run is not None and run.get("state") != "SUCCEEDED":
        raise typer.Exit(code=1)


# Defined beside the reconciler, which the step base image holds: its PostSync hook Job runs
# this very command without this module (python -m burger_recs.deploy.schedule).
app.command("reconcile-schedule")(reconcile_schedule_command)
# Likewise the watchdog, which the CronJob burger-recs-watchdog runs in the same image.
app.command("watch-day")(watch_day_command)


@app.command("build-images")
def build_images_command(
    registry: Annotated[
        str | None,
        typer.Option(
            envvar="REGISTRY",
            help="Registry prefix of the image references (default: localhost:5001, where "
            "the kind cluster pulls from).",
        ),
    ] = None,
    python_image: PythonImageOption = DEFAULT_PYTHON_IMAGE,
    extra_ca_bundle: ExtraCaOption = "",
    push: Annotated[bool, typer.Option(help="Push every image after building.")] = False,
    image_map: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Where to write the step -> image map (default: .local/build/images.json).",
        ),
    ] = None,
) -> None:
    """Build the images whose content tag is not present locally (make images)."""
    from burger_recs.components.images import DEFAULT_REGISTRY
    from burger_recs.deploy import docker

    try:
        docker.build_images(
            registry or DEFAULT_REGISTRY,
            python_image,
            extra_ca_bundle,
            push=push,
            image_map=image_map or docker.IMAGE_MAP,
            echo=typer.echo,
        )
    except (docker.BuildError, OSError) as exc:
        raise fail(str(exc)) from None
