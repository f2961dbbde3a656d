"""The shipped walkthrough experiment and options table are valid as shipped."""

from __future__ import annotations

from pathlib import Path

from inferopt.client import AsyncClient
from inferopt.stack import validate_stack
from inferopt.tradeoff.experiments import load_experiment, merged_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_walkthrough_experiment_parses_and_every_stack_layer_is_registered() -> None:
    spec, _ = load_experiment(EXAMPLES / "walkthrough" / "experiment.yaml")
    assert spec.configurations[0].concurrency == 1  # the baseline is sequential
    assert spec.requirements.min_quality is not None
    for configuration in spec.configurations:
        config = merged_config(spec.base, configuration.config, configuration.name)
        validate_stack(config.stack, configuration.name)
        client = AsyncClient(config)
        route = client.resolve(configuration.model)  # an unknown alias or router raises here
        if route.provider == "router":
            client._model_for(route)  # router options are checked when the router is built
        else:
            assert configuration.model in config.models
