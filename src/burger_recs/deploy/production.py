"""Production's state in git: render the pipeline as Kubernetes resources, record image digests.

``make render-prod`` (``burger-recs render-prod``) compiles the pipeline in the kfp SDK's
Kubernetes-manifest format (a ``Pipeline`` and a ``PipelineVersion`` resource) into
``manifests/overlays/prod/rendered/``, which Argo CD syncs:

- every step image, and the reconciler's image, is pinned by content tag *and* digest in
  the production registry, from ``manifests/overlays/prod/images.lock.json``. CI writes that
  file when it pushes the images (``make push-prod-images``: ``burger-recs push-prod-images``,
  ``push`` here); a step whose current content tag has no digest there makes the rendering
  fail, unless ``--preview`` (``PREVIEW=1``) allows tag-only references, for a look at what
  would be deployed;
- the PipelineVersion's name is the pipeline's name and a hash of its content
  (``kfp_api.version_name``, as ``burger-recs submit`` names its versions: same content, same
  name); KFP keeps a version's spec immutable, so a changed pipeline is a new version;
- with ``--image-pull-secret`` (a private registry), every step and the reconciler Job get
  the image pull Secret (``pull_secrets``); the pipeline's content, so its name, includes it;
- its ``codeSourceURL`` is the repository (the Argo CD Application's ``repoURL``) at the
  commit the content was first rendered from, and its ``code_version`` tag that commit. A
  re-rendering of the same content keeps both, so rendering twice gives identical bytes.

``--check`` compares instead of writing. The rendering is *current* when rendering again gives
the committed bytes, *stale* when it does not, and *pending* when the code has images not
pushed yet (CI on main pushes them, records their digests and renders). A pending rendering
must still run the current pipeline: its DAG, components and inputs equal the compiled
pipeline's, image references aside; a change to the pipeline is rendered in the same commit,
as a preview (``PREVIEW=1``) until CI pins its images. Either way the schedule
(``schedule.yaml``) may set only parameters the rendered version declares.

Past versions outlive the commits that rendered them: the Pipeline and every PipelineVersion
carry Argo CD's ``Prune=false`` (and ``IgnoreExtraneous``, so that a kept version does not
mark the application out of sync). KFP 2.17's webhook does not guard deletes
(backend/src/apiserver/webhook/pipelineversion_webhook.go, ``ValidateDelete`` is a no-op) and
a PipelineVersion is owned by its Pipeline (``Default`` sets the owner reference), so a prune
would take away the version the recurring run still points at before the PostSync reconciler
moves it, and every past run would lose the version it ran. A rollback is a revert of the
commit: the earlier version is applied again (still there, unchanged) and the reconciler
points the schedule back at it.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from burger_recs.components.images import (
    BASE,
    DEFAULT_REGISTRY,
    RECONCILER,
    REPO,
    STEPS,
    image_name,
    image_ref,
)
from burger_recs.deploy import DEFAULT_PROD_REGISTRY, NAMESPACE
from burger_recs.deploy.kfp_api import version_name
from burger_recs.deploy.pull_secrets import job_patch, with_image_pull_secrets
from burger_recs.deploy.schedule import (
    ScheduleError,
    check_parameters,
    declared_parameters,
    load_schedule,
)

OVERLAY = REPO / "manifests" / "overlays" / "prod"
RENDERED = "rendered"
LOCK = "images.lock.json"
APPLICATION = REPO / "manifests" / "argocd" / "burger-recs-prod.yaml"
PROJECT = REPO / "manifests" / "argocd" / "burger-recs-project.yaml"
IMAGES = (BASE, *STEPS, RECONCILER)
# The reconciler Job's image placeholder (reconcile-schedule-job.yaml): its own image.
RECONCILER_IMAGE = image_name(RECONCILER)
RECONCILER_JOB = "burger-recs-reconcile-schedule"
# The database's migration Job (migrate/migrate-job.yaml), in the reconciler's image too.
MIGRATE_JOB = "burger-recs-migrate"
PIPELINE_FILE = "pipeline.yaml"
SCHEDULE_FILE = "schedule.yaml"
# Argo CD never prunes the pipeline or a version, and does not count a kept one as drift.
KEEP = {
    "argocd.argoproj.io/sync-options": "Prune=false",
    "argocd.argoproj.io/compare-options": "IgnoreExtraneous",
}
COMPONENT_FILE = "kustomization.yaml"
# What the pipeline's content is made of: an uncommitted change here is no commit's code.
CODE_INPUTS = ("src", "images", "requirements.in", "requirements.lock")
IMAGES_ANNOTATION = "burger-recs/images"
PINNED, PREVIEW = "pinned", "tag-only preview"
# The version's tag saying so, which the schedule's reconciler reads through the KFP API: it
# never schedules a preview.
IMAGES_TAG = "images"
IMAGES_TAG_VALUE = {False: "pinned", True: "tag-only-preview"}
IMAGES_NOTE = {
    False: "pinned by content tag and digest (images.lock.json)",
    True: "tag-only PREVIEW (no digest recorded): not for production",
}
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_HEADER = """\
# Generated by `make render-prod` (burger-recs render-prod): do not edit.
# {what}
#   images   {images}
#   version  {name} (named after its content)
#   code     {url}
"""


class RenderError(RuntimeError):
    """The rendering cannot be made (with the reason and what to do)."""


class MissingDigests(RenderError):
    """Images of the current code have no digest recorded in the lock."""

    def __init__(self, refs: list[str], lock_path: Path, lock: Lock) -> None:
        self.refs = refs
        recorded = f" (it records images of {lock.registry})" if lock.images else ""
        super().__init__(
            f"no digest recorded in {show(lock_path)}{recorded} for:\n"
            + "".join(f"  {ref}\n" for ref in refs)
            + "These images of the current code are not pushed yet: CI on main pushes them, "
            "records their digests (make push-prod-images) and renders. For a preview with "
            "tag-only references: make render-prod PREVIEW=1"
        )


@dataclass(frozen=True)
class Lock:
    """``images.lock.json``: where CI pushed each image, by digest.

    Attributes:
        registry: the production registry the images were pushed to.
        images: image (``base`` or a step) -> ``<registry>/burger-recs-<image>:<tag>@sha256:...``.
    """

    registry: str = DEFAULT_PROD_REGISTRY
    images: dict[str, str] = field(default_factory=dict)


def show(path: Path) -> str:
    """Return ``path`` relative to the repository, as messages name it."""
    try:
        return path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


def read_lock(path: Path) -> Lock:
    """Read the lock; a missing file is an empty lock."""
    if not path.exists():
        return Lock()
    data = json.loads(path.read_text())
    unknown = set(data) - {"registry", "images"}
    if unknown or not isinstance(data.get("images", {}), dict):
        raise RenderError(f"{show(path)}: expected registry and images, got {sorted(data)}")
    return Lock(data.get("registry") or DEFAULT_PROD_REGISTRY, dict(data.get("images", {})))


def lock_text(lock: Lock) -> str:
    """Return the lock file's bytes (stable: sorted keys, one newline at the end)."""
    data = {"registry": lock.registry, "images": dict(sorted(lock.images.items()))}
    return json.dumps(data, indent=2) + "\n"


def split_ref(ref: str) -> tuple[str, str]:
    """Split ``host[:port]/path:tag`` into repository and tag (empty when there is none)."""
    repository, _, tag = ref.rpartition(":")
    if not repository or "/" in tag:
        return ref, ""
    return repository, tag


def pinned_refs(registry: str, lock: Lock, lock_path: Path, preview: bool) -> dict[str, str]:
    """Return each image's reference: ``<ref>@sha256:...`` from the lock, or the bare ref.

    Raises:
        MissingDigests: an image's current content tag has no digest (unless ``preview``).
    """
    refs, missing = {}, []
    for image in IMAGES:
        wanted = image_ref(image, registry)
        recorded = lock.images.get(image, "")
        if recorded.startswith(f"{wanted}@") and _DIGEST.search(recorded):
            refs[image] = recorded
        else:
            refs[image] = wanted
            missing.append(wanted)
    if missing and not preview:
        raise MissingDigests(missing, lock_path, lock)
    return refs


def repo_url(application: Path = APPLICATION) -> str:
    """Return the repository's web URL: the Argo CD Application's ``repoURL``, sans ``.git``."""
    app = yaml.safe_load(application.read_text())
    url = app["spec"]["source"]["repoURL"]
    return url.removesuffix("/").removesuffix(".git")


def overlay_namespace(overlay: Path = OVERLAY) -> str:
    """Return the namespace production deploys into: the overlay's, set in one place."""
    return str(yaml.safe_load((overlay / COMPONENT_FILE).read_text()).get("namespace", NAMESPACE))


def compile_manifests(pipeline_name: str | None = None, namespace: str | None = None) -> list[dict]:
    """Compile the pipeline as Pipeline and PipelineVersion resources in ``namespace`` (kfp)."""
    from kfp import compiler
    from kfp.compiler.compiler_utils import KubernetesManifestOptions

    from burger_recs.pipelines.daily_recommendations import daily_recommendations

    options = KubernetesManifestOptions(
        pipeline_name=pipeline_name,
        pipeline_version_name="named-after-its-content",
        namespace=namespace or overlay_namespace(),
        include_pipeline_manifest=True,
    )
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "manifests.yaml"
        compiler.Compiler().compile(
            daily_recommendations,
            str(target),
            kubernetes_manifest_options=options,
            kubernetes_manifest_format=True,
        )
        return [doc for doc in yaml.safe_load_all(target.read_text()) if doc]


def pin_images(version_spec: dict, refs: dict[str, str]) -> None:
    """Point every executor's image at the production reference (in place).

    Raises:
        RenderError: an executor's image is not the current content tag of a step.
    """
    compiled = {image_ref(step, DEFAULT_REGISTRY): refs[step] for step in STEPS}
    executors = version_spec["pipelineSpec"]["deploymentSpec"]["executors"]
    for name, executor in sorted(executors.items()):
        image = executor["container"]["image"]
        if image not in compiled:
            raise RenderError(
                f"executor {name} runs {image}, which is no step image of the current code"
            )
        executor["container"]["image"] = compiled[image]


@dataclass(frozen=True)
class Provenance:
    """Where a version's code is: kept by every re-rendering of the same content."""

    code_source_url: str
    description: str
    tags: dict[str, str]


def provenance(commit: str, url: str, pipeline_description: str) -> Provenance:
    """Return the provenance of content first rendered from ``commit``."""
    short = commit[:12]
    return Provenance(
        f"{url}/tree/{commit}",
        f"code {short}: {pipeline_description}".strip().removesuffix(":"),
        {"code_version": short},
    )


def render_files(
    docs: list[dict],
    refs: dict[str, str],
    previous: dict | None,
    credit: Callable[[str], Provenance],
    image_pull_secrets: Sequence[str] = (),
) -> dict[str, str]:
    """Return the rendered files (name -> text) for the compiled resources.

    Args:
        docs: the compiled Pipeline and PipelineVersion (changed in place).
        refs: each image's production reference (``pinned_refs``).
        previous: the committed PipelineVersion, whose provenance a re-rendering of the same
            content keeps.
        credit: the provenance of new content, given its pipeline's description.
        image_pull_secrets: Secrets every step and the Jobs pull their images with.

    Raises:
        RenderError: a Secret's name is invalid.
    """
    (pipeline,) = [d for d in docs if d["kind"] == "Pipeline"]
    (version,) = [d for d in docs if d["kind"] == "PipelineVersion"]
    spec = version["spec"]
    pin_images(spec, refs)
    try:
        platform = with_image_pull_secrets(
            spec["pipelineSpec"], spec.get("platformSpec"), image_pull_secrets
        )
    except ValueError as exc:
        raise RenderError(str(exc)) from None
    if platform is not None:
        spec["platformSpec"] = platform
    name = version_name(
        pipeline["metadata"]["name"], spec["pipelineSpec"], spec.get("platformSpec")
    )
    preview = any(not _DIGEST.search(ref) for ref in refs.values())
    if previous and previous["metadata"]["name"] == name and previous["spec"].get("codeSourceURL"):
        old = previous["spec"]
        code = {k: v for k, v in old.get("tags", {}).items() if k == "code_version"}
        origin = Provenance(old["codeSourceURL"], old.get("description", ""), code)
    else:
        origin = credit(spec.get("description", ""))
    pipeline["metadata"]["annotations"] = {"argocd.argoproj.io/sync-wave": "0", **KEEP}
    version["metadata"]["name"] = name
    version["metadata"]["annotations"] = {
        # After the Pipeline: KFP's webhook refuses a version of a pipeline it cannot find.
        "argocd.argoproj.io/sync-wave": "1",
        **KEEP,
        IMAGES_ANNOTATION: PREVIEW if preview else PINNED,
    }
    spec["displayName"] = name
    spec["codeSourceURL"] = origin.code_source_url
    spec["description"] = origin.description
    spec["tags"] = {**origin.tags, IMAGES_TAG: IMAGES_TAG_VALUE[preview]}
    header = _HEADER.format(
        what="The daily pipeline as Kubeflow Pipelines resources (Kubernetes-native mode).",
        images=IMAGES_NOTE[preview],
        name=name,
        url=origin.code_source_url,
    )
    body = yaml.safe_dump_all(
        [pipeline, version], sort_keys=True, default_flow_style=False, width=100
    )
    repository, tag = split_ref(refs[RECONCILER].split("@")[0])
    image = {"name": RECONCILER_IMAGE, "newName": repository, "newTag": tag}
    if _DIGEST.search(refs[RECONCILER]):
        image["digest"] = refs[RECONCILER].rsplit("@", 1)[1]
    component: dict = {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "resources": [PIPELINE_FILE],
        "images": [image],
    }
    if image_pull_secrets:
        component["patches"] = [
            job_patch(job, image_pull_secrets) for job in (MIGRATE_JOB, RECONCILER_JOB)
        ]
    component_header = _HEADER.format(
        what="The rendered pipeline, and the reconciler Job's image.",
        images=IMAGES_NOTE[preview],
        name=name,
        url=f"see {PIPELINE_FILE}",
    )
    return {
        PIPELINE_FILE: header + "---\n" + body,
        COMPONENT_FILE: component_header + yaml.safe_dump(component, sort_keys=False),
    }


def committed_version(overlay: Path) -> dict | None:
    """Return the committed PipelineVersion resource, or None."""
    path = overlay / RENDERED / PIPELINE_FILE
    if not path.exists():
        return None
    found = [
        d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == "PipelineVersion"
    ]
    return found[0] if len(found) == 1 else None


def _git(*args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False, timeout=30
    )
    if result.returncode != 0:
        raise RenderError(f"git {' '.join(args)}: {result.stderr.strip() or 'failed'}")
    return result.stdout.strip()


def head_commit(preview: bool) -> str:
    """Return the commit new content is credited to: HEAD, when it holds the code.

    Raises:
        RenderError: no git checkout, or uncommitted changes to the code (unless ``preview``).
    """
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--", *CODE_INPUTS) if not preview else ""
    except (OSError, subprocess.SubprocessError) as exc:
        raise RenderError(f"cannot ask git for the commit ({exc}): pass --commit") from None
    if dirty:
        raise RenderError(
            "the pipeline's code has uncommitted changes, so no commit holds the code being "
            "rendered:\n" + dirty + "\nCommit them, then render (or render a preview: PREVIEW=1)."
        )
    return commit


def render(
    overlay: Path = OVERLAY,
    registry: str | None = None,
    preview: bool = False,
    commit: str | None = None,
    application: Path = APPLICATION,
    docs: list[dict] | None = None,
    image_pull_secrets: Sequence[str] = (),
) -> dict[str, str]:
    """Return the rendering of the current code (name -> text), without writing it.

    Args:
        overlay: the production overlay (its lock, and its committed rendering).
        registry: the production registry (default: the lock's).
        preview: allow tag-only references for images without a recorded digest.
        commit: the commit new content is credited to (default: HEAD, which must then hold
            the code); not asked for when the content is unchanged.
        application: the Argo CD Application, whose repoURL codeSourceURL names.
        docs: the compiled resources (default: compile now).
        image_pull_secrets: the image pull Secrets of a private registry (none by default).

    Raises:
        MissingDigests: see ``pinned_refs``.
        RenderError: the rendering cannot be made.
    """
    lock_path = overlay / LOCK
    lock = read_lock(lock_path)
    refs = pinned_refs(registry or lock.registry, lock, lock_path, preview)
    url = repo_url(application)

    def credit(description: str) -> Provenance:
        return provenance(commit or head_commit(preview), url, description)

    docs = copy.deepcopy(docs) if docs else compile_manifests()
    return render_files(docs, refs, committed_version(overlay), credit, image_pull_secrets)


def write(overlay: Path, files: dict[str, str]) -> list[str]:
    """Write the rendered files; return the names of those whose bytes changed."""
    folder = overlay / RENDERED
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in files.items():
        path = folder / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(name)
    return changed


@dataclass(frozen=True)
class CheckResult:
    """``current``, ``stale`` or ``pending``, and why."""

    state: str
    detail: str


def consistency_problems(overlay: Path) -> list[str]:
    """Return what is wrong with the committed rendering on its own (hand edits, gaps).

    Its version must be named after its content, and every image it runs must be pinned by a
    digest the lock records, unless it is marked a tag-only preview.
    """
    version = committed_version(overlay)
    if version is None:
        return [f"no rendering in {show(overlay / RENDERED / PIPELINE_FILE)}: make render-prod"]
    problems = []
    spec = version["spec"]
    name = version_name(
        spec.get("pipelineName", ""), spec.get("pipelineSpec"), spec.get("platformSpec")
    )
    if version["metadata"]["name"] != name:
        problems.append(
            f"the version is named {version['metadata']['name']} but its content is {name}: "
            "edited by hand?"
        )
    preview = version["metadata"].get("annotations", {}).get(IMAGES_ANNOTATION) == PREVIEW
    recorded = set(read_lock(overlay / LOCK).images.values())
    for executor in spec["pipelineSpec"]["deploymentSpec"]["executors"].values():
        image = executor["container"]["image"]
        if image not in recorded and not (preview and not _DIGEST.search(image)):
            problems.append(f"{image} is not pinned by a digest of images.lock.json")
    return problems


def schedule_problems(overlay: Path) -> list[str]:
    """Return what keeps the overlay's schedule from running the committed version."""
    version = committed_version(overlay)
    path = overlay / SCHEDULE_FILE
    if version is None or not path.exists():
        return []
    name = version["metadata"]["name"]
    try:
        schedule = load_schedule(path)
        check_parameters(schedule, declared_parameters(version["spec"]["pipelineSpec"]) or {}, name)
    except ScheduleError as exc:
        return [f"{show(path)}: {exc}"]
    return []


def runs_alike(version_spec: dict) -> dict:
    """Return what a version runs, image references aside.

    That is its pipeline and platform spec, each step's image reduced to its repository (no
    tag, no digest).
    """
    spec: dict = {k: copy.deepcopy(version_spec.get(k)) for k in ("pipelineSpec", "platformSpec")}
    for executor in spec["pipelineSpec"]["deploymentSpec"]["executors"].values():
        container = executor["container"]
        container["image"] = split_ref(container["image"].split("@", 1)[0])[0]
    return spec


def pipeline_drift(committed: dict, rendered: dict) -> str:
    """Return how the committed version runs otherwise than the rendered one ('' if alike).

    Both are PipelineVersion resources; their images may differ (a pending rendering pins
    the images of earlier code), nothing else may.
    """
    specs = [runs_alike(v["spec"]) for v in (committed, rendered)]
    old, new = (
        yaml.safe_dump(spec, sort_keys=True, width=100).splitlines(keepends=True) for spec in specs
    )
    if old == new:
        return ""
    summary = []
    for what, names in (
        ("components", lambda spec: spec["pipelineSpec"].get("components", {})),
        ("parameters", lambda spec: declared_parameters(spec["pipelineSpec"]) or {}),
    ):
        before, after = (set(names(spec)) for spec in specs)
        if after - before:
            summary.append(f"  {what} it lacks: {', '.join(sorted(after - before))}\n")
        if before - after:
            summary.append(
                f"  {what} no longer in the pipeline: {', '.join(sorted(before - after))}\n"
            )
    diff = difflib.unified_diff(
        old, new, f"committed {RENDERED}/{PIPELINE_FILE}", "the current pipeline", n=2
    )
    return "".join(summary) + "".join(list(diff)[:80])


def check(
    overlay: Path = OVERLAY,
    registry: str | None = None,
    docs: list[dict] | None = None,
    image_pull_secrets: Sequence[str] = (),
) -> CheckResult:
    """Tell whether the committed rendering is what rendering the current code gives."""
    scheduling = schedule_problems(overlay)
    try:
        fresh = render(
            overlay, registry, commit="0" * 40, docs=docs, image_pull_secrets=image_pull_secrets
        )
    except MissingDigests as exc:
        problems = consistency_problems(overlay) + scheduling
        if problems:
            return CheckResult("stale", "\n".join(problems))
        preview = render(
            overlay,
            registry,
            preview=True,
            commit="0" * 40,
            docs=docs,
            image_pull_secrets=image_pull_secrets,
        )
        (current,) = [
            d for d in yaml.safe_load_all(preview[PIPELINE_FILE]) if d["kind"] == "PipelineVersion"
        ]
        drift = pipeline_drift(committed_version(overlay) or {}, current)
        if drift:
            return CheckResult(
                "stale",
                "the committed rendering runs another pipeline than the current code (images "
                "aside): render it in this commit, as a preview until CI on main pins its "
                "images: make render-prod PREVIEW=1\n" + drift,
            )
        return CheckResult(
            "pending",
            "images of the current code are not pushed yet, so the committed rendering (this "
            "pipeline, with earlier images or tag-only as a preview) stays until CI on main "
            "pushes them and renders:\n" + "".join(f"  {ref}\n" for ref in exc.refs),
        )
    diffs = []
    for name, text in fresh.items():
        path = overlay / RENDERED / name
        old = path.read_text() if path.exists() else ""
        if old != text:
            diff = difflib.unified_diff(
                old.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"committed {RENDERED}/{name}",
                f"rendered {RENDERED}/{name}",
                n=1,
            )
            diffs.append("".join(list(diff)[:60]))
    if diffs:
        return CheckResult(
            "stale",
            "".join(f"{problem}\n" for problem in scheduling)
            + "run `make render-prod` and commit:\n"
            + "\n".join(diffs),
        )
    if scheduling:
        return CheckResult("stale", "\n".join(scheduling))
    return CheckResult("current", "the committed rendering is current")
