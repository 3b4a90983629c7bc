"""Transfer: start a new run from a saved run's weights, possibly on other data.

    weights  load the parent's weights that fit, name the ones that do not (TransferReport)
    trainer  the trainer of a new run, from its parent's weights (FreezeD itself: genlab.models.freeze)
    setup    the config of a transfer run (the parent's model, the new run's data and settings)
    shipped  the runs shipped with genlab as starting points; where a parent's folder is

    config = transfer_config(setup_config, parent_config("fashion-gan", root), "fashion-gan", freeze_d=2)
    trainer = new_trainer(config, runs_root=root)   # loads fashion-gan's weights; trainer.transfer says which

The run records its parent in config.json (transfer.from_run, freeze_d, lr_scale) and, with what was
loaded and skipped, in meta.json ("parent").
"""
from genlab.transfer.setup import parent_config, transfer_config
from genlab.transfer.shipped import SHIPPED_ROOT, parent_folder, trained_starts
from genlab.transfer.trainer import new_trainer
from genlab.transfer.weights import TransferReport, fitting_tensors, load_parent_weights

__all__ = ["SHIPPED_ROOT", "TransferReport", "fitting_tensors", "load_parent_weights", "new_trainer",
           "parent_config", "parent_folder", "trained_starts", "transfer_config"]
