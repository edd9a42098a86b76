"""KFP component: evaluate (logic: burger_recs.steps.evaluate)."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output

from burger_recs.components.images import image_ref


@dsl.component(base_image=image_ref("evaluate"), install_kfp_package=False)
def evaluate(
    validated: Input[Dataset],
    eval_model: Input[Model],
    k: int,
    exclude_ordered: bool,
    quality_margin: float,
    serve_when_gated: bool,
    champion: str,
    metrics: Output[Metrics],
    evaluation: Output[Artifact],
    report: Output[HTML],
) -> NamedTuple("Gate", publishable=bool, reason=str):
    """Score today's model, the champion and popularity on the holdout; decide who serves."""
    from burger_recs.runs import noted
    from burger_recs.steps import evaluate as step

    with noted("evaluate"):
        result = step.run(
            data_dir=validated.path,
            eval_model_path=eval_model.path,
            evaluation_path=evaluation.path,
            report_path=report.path,
            k=k,
            exclude_ordered=exclude_ordered,
            quality_margin=quality_margin,
            champion=champion,
            serve_when_gated=serve_when_gated,
        )
    for name, value in result.metrics().items():
        metrics.log_metric(name, value)
    # The figures also as a file: kfp.local's cache serves an entry only while each of its
    # artifacts' files exists (kfp/local/cache.py, _deserialize_artifact, kfp 2.17.0), and a
    # Metrics artifact otherwise has none.
    step.write_metrics(result, metrics.path)
    metrics.metadata["served_by"] = result.served_by or "nobody"
    return result.publishable, result.reason
