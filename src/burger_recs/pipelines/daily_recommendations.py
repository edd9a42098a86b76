"""The daily pipeline: ingest -> validate -> train -> evaluate -> recommend -> publish -> finish.

With ``shards`` > 1, recommend and publish become a ParallelFor of scored and staged shards
followed by one commit that makes the whole day visible at once. Every step runs inside a
``dsl.ExitHandler`` whose final task, ``finish``, records how the run ended (also when a step
failed) and alerts on a bad day, on every runner.

Wiring only: every step is a component from burger_recs.components, every default comes
from burger_recs.settings, and every task's cluster settings (Secrets, requests, retries)
come from burger_recs.components.cluster.
Compiled with ``burger-recs compile`` into pipelines/compiled/daily_recommendations.yaml,
the one spec that runs embedded, in containers and on a cluster.
"""

from kfp import dsl

from burger_recs.components.check_inputs import check_inputs
from burger_recs.components.cluster import on_cluster
from burger_recs.components.commit import commit, stage_shard
from burger_recs.components.evaluate import evaluate
from burger_recs.components.finish import finish
from burger_recs.components.ingest import ingest
from burger_recs.components.publish import publish
from burger_recs.components.recommend import recommend, recommend_shard, shard_plan
from burger_recs.components.train import train
from burger_recs.components.validate import validate
from burger_recs.settings import DEFAULTS

PIPELINE_NAME = "burger-recs-daily"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Daily burger-combo recommendations: train LightFM on the shop's orders, "
    "evaluate against popularity, publish top-k per customer.",
)
def daily_recommendations(
    data_uri: str,
    run_date: str = "",
    run_id: str = "",
    k: int = DEFAULTS.k,
    window_days: int = DEFAULTS.window_days,
    holdout_days: int = DEFAULTS.holdout_days,
    exclude_ordered: bool = DEFAULTS.exclude_ordered,
    loss: str = DEFAULTS.train.loss,
    epochs: int = DEFAULTS.train.epochs,
    no_components: int = DEFAULTS.train.no_components,
    learning_rate: float = DEFAULTS.train.learning_rate,
    seed: int = DEFAULTS.train.seed,
    num_threads: int = DEFAULTS.train.num_threads,
    identity_weight: float = DEFAULTS.train.identity_weight,
    recency_half_life: float = DEFAULTS.train.recency_half_life,
    weigh_repeats: bool = DEFAULTS.train.weigh_repeats,
    cold_start_blend: float = DEFAULTS.train.cold_start_blend,
    popularity_half_life: float = DEFAULTS.train.popularity_half_life,
    quality_margin: float = DEFAULTS.quality_margin,
    serve_when_gated: bool = DEFAULTS.serve_when_gated,
    shards: int = DEFAULTS.shards,
    day_closes_at: str = DEFAULTS.day_closes_at,
    volume_drop: float = DEFAULTS.day_check.volume_drop,
    volume_spike: float = DEFAULTS.day_check.volume_spike,
    mix_shift: float = DEFAULTS.day_check.mix_shift,
    accept_unusual_day: bool = DEFAULTS.accept_unusual_day,
    gated_days_to_alert: int = DEFAULTS.gated_days_to_alert,
) -> None:
    """Compute and publish one day of recommendations.

    Args:
        data_uri: the data root (local folder or gs://bucket/prefix) of the daily drops.
        run_date: the day to run for, YYYY-MM-DD; empty means the last day closed by the
            run's schedule time (a recurring run's cron tick, a manual run's start), see
            day_closes_at.
        run_id: the id recorded in pipeline_runs; empty means the orchestrator's run id.
        k: recommendations per customer.
        window_days: days of orders the model learns from, the run date included.
        holdout_days: the last days of the window held out for evaluation.
        exclude_ordered: never recommend what the customer ordered in the window.
        loss: LightFM loss (warp, bpr, logistic, warp-kos).
        epochs: training epochs.
        no_components: latent factors.
        learning_rate: SGD learning rate.
        seed: random seed of training.
        num_threads: training threads (1 keeps training reproducible).
        identity_weight: an item's identity's share of its features, against its
            ingredients (0: the identity weighs like one ingredient).
        recency_half_life: days after which an order weighs half in training (0: off).
        weigh_repeats: repeat orders of an item weigh more in training (1 + ln n).
        cold_start_blend: customers without orders are ranked by item bias (0),
            popularity (1) or a blend.
        popularity_half_life: days after which an order counts half in the cold start's
            popularity (0: plain counts).
        quality_margin: today's model becomes the champion and serves only if its
            precision@k >= popularity x (1 + margin) and >= champion x (1 - margin);
            negative turns the gate off.
        serve_when_gated: when today's model does not pass, serve the day by the champion or
            popularity, whichever did better on the holdout; off publishes nothing for it.
        shards: score and stage the customers in this many parallel shards (ParallelFor),
            then make the day visible in one commit; 1 scores and publishes in one step each.
        day_closes_at: HH:MM (UTC) at which a day closes, 00:00 at its midnight: a run
            without run_date processes the last day closed by its schedule time, so with
            00:00 a run at 02:00 processes the day before, and with 23:30 a run at 23:30
            that day.
        volume_drop: the day stops before training when its orders are below this share
            of the recent median (of its weekday).
        volume_spike: the day warns (and publishes) when its orders are above this many
            times that median.
        mix_shift: the day stops when an item's share of its orders moved by more than
            this from the recent days' (L-infinity distance).
        accept_unusual_day: the run goes on with a day the checks find unusual (a known
            promotion or closure); its record says it was accepted.
        gated_days_to_alert: the final task alerts when no model has been promoted for
            this many run days in a row (0: never); a gated day alone does not alert.
    """
    # No cacheable task takes a per-run value: on a cluster the driver resolves placeholders
    # before it computes the cache key, so one would make every run miss. A failed step's
    # note is keyed by the run id in its environment (burger_recs.runs.run_key); the tasks
    # that always run (the check, the publishing steps and finish) also take the run's id,
    # parameter and times.
    run = {"orchestrator_run_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER}
    finished = finish(
        run_date=run_date,
        scheduled_at=dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER,
        day_closes_at=day_closes_at,
        created_at=dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER,
        data_uri=data_uri,
        run_id=run_id,
        gated_days_to_alert=gated_days_to_alert,
        **run,
    )
    with dsl.ExitHandler(finished, name="daily-run"):
        checked_inputs = check_inputs(
            data_uri=data_uri,
            run_date=run_date,
            window_days=window_days,
            scheduled_at=dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER,
            day_closes_at=day_closes_at,
            **run,
        )
        ingested = ingest(
            data_uri=data_uri,
            run_date=checked_inputs.outputs["run_date"],
            window_days=window_days,
            fingerprint=checked_inputs.outputs["fingerprint"],
        )
        checked = validate(
            drop=ingested.outputs["drop"],
            volume_drop=volume_drop,
            volume_spike=volume_spike,
            mix_shift=mix_shift,
            accept_unusual_day=accept_unusual_day,
        )
        trained = train(
            validated=checked.outputs["validated"],
            holdout_days=holdout_days,
            loss=loss,
            epochs=epochs,
            no_components=no_components,
            learning_rate=learning_rate,
            seed=seed,
            num_threads=num_threads,
            identity_weight=identity_weight,
            recency_half_life=recency_half_life,
            weigh_repeats=weigh_repeats,
            cold_start_blend=cold_start_blend,
            popularity_half_life=popularity_half_life,
        )
        evaluated = evaluate(
            validated=checked.outputs["validated"],
            eval_model=trained.outputs["eval_model"],
            k=k,
            exclude_ordered=exclude_ordered,
            quality_margin=quality_margin,
            serve_when_gated=serve_when_gated,
            champion=checked_inputs.outputs["champion"],
        )
        # What scoring reads, and what publishing a day records, whether sharded or not.
        scoring = {
            "model": trained.outputs["model"],
            "validated": checked.outputs["validated"],
            "evaluation": evaluated.outputs["evaluation"],
            "k": k,
            "exclude_ordered": exclude_ordered,
        }
        recording = {
            "validated": checked.outputs["validated"],
            "evaluation": evaluated.outputs["evaluation"],
            "model": trained.outputs["model"],
            "eval_model": trained.outputs["eval_model"],
            "model_version": trained.outputs["Output"],
            "data_uri": data_uri,
            "started_at": dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER,
            "run_id": run_id,
            **run,
        }
        with dsl.If(shards == 1, name="one-shard"):
            recommended = recommend(**scoring)
            published = publish(recommendations=recommended.outputs["recommendations"], **recording)
        with dsl.Else(name="sharded"):
            planned = shard_plan(shards=shards)
            with dsl.ParallelFor(planned.output, name="shard") as shard:
                scored = recommend_shard(**scoring, shard=shard, shards=shards)
                staged = stage_shard(
                    recommendations=scored.outputs["recommendations"],
                    shard=shard,
                    shards=shards,
                    run_id=run_id,
                    **run,
                )
            committed = commit(**recording, shards=shards, staged_rows=dsl.Collected(staged.output))
    on_cluster(
        check_inputs=checked_inputs,
        ingest=ingested,
        validate=checked,
        train=trained,
        evaluate=evaluated,
        recommend=recommended,
        publish=published,
        shard_plan=planned,
        recommend_shard=scored,
        stage_shard=staged,
        commit=committed,
        finish=finished,
    )
