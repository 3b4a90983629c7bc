"""Saved runs: save, load, list and manage the run folders under a checkpoint root.

    from genlab.runs import save_run, load_run, list_runs

Modules, each with one job:
    format   the folder layout, file names, CheckpointError and the checked readers
    meta     the schema of meta.json
    tensors  safetensors headers checked before any tensor exists, checksums, finite values
    sizes    how large each file of a run may be, from the model its config builds
    optimizer_state  a saved optimizer state checked against the trainer's optimizers
    save     save_run: a trainer and its history to a run folder, atomically
    load     load_run / validate_run_dir: a run folder back into a trainer, checked before use
    listing  run names and paths, RunInfo, list_runs
    library  rename, delete and zip export
    upload   a strict import of an uploaded run zip (entries checked in zip_entries)
    shipped  the runs that ship with genlab, read-only
    labels   what the Runs table and the run comparison show
"""
from genlab.runs.format import (
    COMMAND_FILE,
    CONFIG_FILE,
    DEFAULT_ROOT,
    FORMAT_VERSION,
    MAX_RUN_BYTES,
    META_FILE,
    METRICS_CSV_FILE,
    METRICS_JSON_FILE,
    PICKLE_SUFFIXES,
    PREVIEW_FILE,
    REQUIRED_FILES,
    RUN_FILES,
    STATE_JSON_FILE,
    STATE_TENSORS_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    is_run_folder,
)
from genlab.runs.labels import (
    KEY_SETTINGS,
    SETTING_LABELS,
    curve_metrics,
    default_comparison,
    differing_settings,
    metric_series,
    metrics_text,
    run_settings,
    settings_text,
    table_rows,
)
from genlab.runs.library import delete_run, export_zip, rename_run
from genlab.runs.listing import RunInfo, check_name, list_runs, resolve_run, run_info
from genlab.runs.load import LoadedRun, checked_preview, load_run, read_history, validate_run_dir
from genlab.runs.save import prepare_root, save_run
from genlab.runs.shipped import free_copy_name, is_shipped
from genlab.runs.upload import MAX_ZIP_BYTES, import_zip
from genlab.runs.zip_entries import RunImportError
from genlab.runs.tensors import check_safetensors

__all__ = [
    "COMMAND_FILE", "CONFIG_FILE", "DEFAULT_ROOT", "FORMAT_VERSION", "MAX_RUN_BYTES", "META_FILE",
    "METRICS_CSV_FILE", "METRICS_JSON_FILE", "PICKLE_SUFFIXES", "PREVIEW_FILE", "REQUIRED_FILES", "RUN_FILES",
    "STATE_JSON_FILE", "STATE_TENSORS_FILE", "WEIGHTS_FILE", "CheckpointError", "check_safetensors", "is_run_folder",
    "KEY_SETTINGS", "SETTING_LABELS", "curve_metrics", "default_comparison", "differing_settings", "metric_series", "metrics_text",
    "run_settings", "settings_text", "table_rows", "free_copy_name", "is_shipped",
    "MAX_ZIP_BYTES", "RunImportError", "delete_run", "export_zip", "import_zip", "rename_run",
    "RunInfo", "check_name", "list_runs", "resolve_run", "run_info",
    "LoadedRun", "checked_preview", "load_run", "read_history", "validate_run_dir",
    "prepare_root", "save_run",
]
