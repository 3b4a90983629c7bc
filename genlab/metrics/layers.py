"""Per-layer weight norms: what the norm regularizers act on, made visible."""
from __future__ import annotations

import torch
from torch import nn

from genlab.nn_utils import eval_mode

WEIGHTED_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


@torch.no_grad()
def layer_stats(net: nn.Module, prefix: str) -> dict[str, float]:
    """For each Linear/Conv layer: "weight_norm/<prefix>/<layer>" = ‖W‖_F and
    "spectral_norm/<prefix>/<layer>" = σ_max(W reshaped to (out, in·k·k)), the quantity spectral
    normalization divides by. With a spectral-norm parametrization, W is the normalized weight."""
    stats: dict[str, float] = {}
    # eval mode: reading a spectrally normalized weight in train mode would run a power iteration
    with eval_mode(net):
        for name, module in net.named_modules():
            if not isinstance(module, WEIGHTED_LAYERS):
                continue
            weight = module.weight.detach()
            if isinstance(module, nn.ConvTranspose2d):
                weight = weight.transpose(0, 1)  # stored (in, out, k, k); as a map it is (out, in·k·k)
            matrix = weight.reshape(weight.shape[0], -1).float()
            stats[f"weight_norm/{prefix}/{name}"] = float(torch.linalg.matrix_norm(matrix))
            stats[f"spectral_norm/{prefix}/{name}"] = float(torch.linalg.matrix_norm(matrix, ord=2))
    return stats
