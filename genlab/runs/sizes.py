"""How many bytes each file of a run may hold: what a run of its model needs, and no more.

An uploaded zip of 1 MB can unpack to hundreds of MB (a padded metrics table, a README of zeros), so
the size of every run file is bounded. The tensor files are bounded by the model the run's config
builds (genlab.models.budget): weights.safetensors holds exactly the model's tensors, and
training_state.safetensors at most two optimizer values per trained parameter, one step counter per
parameter tensor, the RNG state and the fixed preview noise. The metrics tables hold at most
TABLE_ROWS rows (genlab.training.history) of the metrics such a run records: its losses, two norms per
weight layer and, for a VAE, one KL value per latent dimension. The other files have fixed bounds.
These bounds hold for every run read (listed, loaded, validated) and are checked for an upload from
the zip's directory, before anything is unpacked.
"""
from __future__ import annotations

from genlab.config import RunConfig
from genlab.models.budget import FLOAT_BYTES, model_size
from genlab.runs.meta import MAX_COMMAND_CHARS
from genlab.runs.format import (
    COMMAND_FILE,
    CONFIG_FILE,
    MAX_JSON_BYTES,
    META_FILE,
    METRICS_CSV_FILE,
    METRICS_JSON_FILE,
    PREVIEW_FILE,
    README_FILE,
    STATE_JSON_FILE,
    STATE_TENSORS_FILE,
    WEIGHTS_FILE,
)
from genlab.training.history import TABLE_ROWS

KIB, MIB = 2**10, 2**20
CONFIG_BYTES = 64 * KIB
META_BYTES = 1 * MIB  # final metrics (at most 1,000) and the commands that made the run
COMMAND_BYTES = 4 * MAX_COMMAND_CHARS  # meta.json's command, in UTF-8
README_BYTES = 64 * KIB
PREVIEW_BYTES = 8 * MIB  # an 8x8 grid of 64 px samples is ~30 KB; a 2D scatter ~100 KB
PREVIEW_MAX_SIDE = 2048  # pixels; an 8x8 grid of 64 px samples is 530 px a side (a 48 KB PNG can claim 20000²)
METRIC_COLUMNS = 64  # losses, penalties, gradient norms, quality and evaluation numbers (~30), with room to spare
VALUE_BYTES = 25  # a float in metrics.json (repr, up to 24 characters) or metrics.csv, with its separator
HEADER_BYTES_PER_TENSOR = 512  # a safetensors header entry is ~120 bytes of JSON
RNG_STATE_BYTES = 64 * KIB  # the CPU generator's state is 5,056 bytes
NOISE_ROWS = 1024  # rows of fixed preview noise allowed (trainers keep 64)
SMALL_FILES = {CONFIG_FILE: CONFIG_BYTES, META_FILE: META_BYTES, COMMAND_FILE: COMMAND_BYTES, README_FILE: README_BYTES,
               PREVIEW_FILE: PREVIEW_BYTES}


def _header_bytes(tensors: int) -> int:
    return 8 + 4 * KIB + HEADER_BYTES_PER_TENSOR * tensors


def file_limits(config: RunConfig) -> dict[str, int]:
    """{run file: the most bytes it may have} for a run of `config` (whose model passed the budget)."""
    size = model_size(config)
    state_tensors = 2 * size.trainable_tensors + size.trainable_tensors + 2  # moments, step counters, rng, noise
    state_bytes = (2 * FLOAT_BYTES * size.trainable + FLOAT_BYTES * size.trainable_tensors + RNG_STATE_BYTES
                   + FLOAT_BYTES * NOISE_ROWS * config.model.latent_dim)
    columns = METRIC_COLUMNS + 2 * size.weight_layers + config.model.latent_dim
    metrics_bytes = min(MAX_JSON_BYTES, MIB + VALUE_BYTES * TABLE_ROWS * columns)
    return {
        **SMALL_FILES,
        METRICS_JSON_FILE: metrics_bytes,
        METRICS_CSV_FILE: metrics_bytes,
        WEIGHTS_FILE: _header_bytes(size.weight_tensors) + size.weights_bytes,
        STATE_TENSORS_FILE: _header_bytes(state_tensors) + state_bytes,
        STATE_JSON_FILE: 64 * KIB + HEADER_BYTES_PER_TENSOR * size.trainable_tensors,
    }
