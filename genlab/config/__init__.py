"""Run configuration: dataclasses whose fields are declared once, as knobs, plus a JSON round trip.

    from genlab.config import RunConfig, ConfigError, KNOBS, knob_for
    config = RunConfig().replace(**{"objective.r1_gamma": 0.1})
    knob_for("objective.r1_gamma").key     # "r1": the CLI flag --r1, later the URL key

Adding a knob is one field in genlab/config/sections.py, declared with `knob(default, key=..., label=...,
bounds=..., live=..., ...)`: validation, the CLI flag, the Train page's widget and the Runs-table label
come from that declaration. A new penalty adds its pure function (genlab/regularizers.py) and one entry
in genlab/trainers/penalties.py.
"""
from genlab.config.dotted import get_dotted, set_dotted
from genlab.config.errors import RUN_NAME_PATTERN, ConfigError, check_run_name
from genlab.config.knobs import Knob, knob
from genlab.config.legacy import RENAMED as LEGACY_FIELDS
from genlab.config.legacy import upgrade_legacy_keys
from genlab.config.registry import KNOBS, LIVE_FIELDS, counterpart, knob_by_key, knob_for
from genlab.config.sections import (
    ARCHS,
    AUGMENT_POLICIES,
    DIFFAUGMENT_POLICIES,
    TRAIN_SIZES,
    VAE_AUGMENT_POLICIES,
    AugmentConfig,
    TransferConfig,
    DATASETS,
    DEVICES,
    FAMILIES,
    GAN_LOSSES,
    IMAGE_DATASETS,
    IMAGE_SIZES,
    LIKELIHOODS,
    OPTIMIZERS,
    TOY2D_DATASETS,
    UPDATE_ORDERS,
    DataConfig,
    ModelConfig,
    ObjectiveConfig,
    OptimConfig,
    RunConfig,
)

__all__ = [
    "ARCHS", "AUGMENT_POLICIES", "DIFFAUGMENT_POLICIES", "TRAIN_SIZES", "VAE_AUGMENT_POLICIES", "AugmentConfig",
    "TransferConfig", "DATASETS", "DEVICES", "FAMILIES", "GAN_LOSSES", "IMAGE_DATASETS", "IMAGE_SIZES", "KNOBS",
    "LEGACY_FIELDS", "LIKELIHOODS", "LIVE_FIELDS", "OPTIMIZERS", "RUN_NAME_PATTERN", "TOY2D_DATASETS", "UPDATE_ORDERS",
    "ConfigError", "DataConfig", "Knob", "ModelConfig", "ObjectiveConfig", "OptimConfig", "RunConfig",
    "check_run_name", "counterpart", "get_dotted", "knob", "knob_by_key", "knob_for", "set_dotted",
    "upgrade_legacy_keys",
]
