"""KFP component: train (logic: burger_recs.steps.train)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from burger_recs.components.images import image_ref


@dsl.component(base_image=image_ref("train"), install_kfp_package=False)
def train(
    validated: Input[Dataset],
    holdout_days: int,
    loss: str,
    epochs: int,
    no_components: int,
    learning_rate: float,
    seed: int,
    num_threads: int,
    identity_weight: float,
    recency_half_life: float,
    weigh_repeats: bool,
    cold_start_blend: float,
    popularity_half_life: float,
    model: Output[Model],
    eval_model: Output[Model],
) -> str:
    """Fit the serving model (whole window) and the evaluation model; return the version."""
    from burger_recs.runs import noted
    from burger_recs.settings import TrainParams
    from burger_recs.steps import train as step

    with noted("train"):
        params = TrainParams(
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
        return step.run(
            data_dir=validated.path,
            model_path=model.path,
            eval_model_path=eval_model.path,
            holdout_days=holdout_days,
            params=params,
        )
