"""Per-layer weight norms: what the norm regularizers act on, made visible."""
from __future__ import annotations

import torch
from torch import nn

from genlab.nn_utils import eval_mode

WEIGHTED_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def weight_matrix(module: nn.Module) -> torch.Tensor:
    """The layer's effective weight as a matrix (out, in·k·k); with a spectral-norm parametrization,
    the normalized weight."""
    weight = module.weight.detach()
    if isinstance(module, nn.ConvTranspose2d):
        weight = weight.transpose(0, 1)  # stored (in, out, k, k); as a map it is (out, in·k·k)
    return weight.reshape(weight.shape[0], -1).float()


class LayerNormTracker:
    """Per layer: "weight_norm/<net>/<layer>" = ‖W‖_F and "spectral_norm/<net>/<layer>" = σ_max(W).

    σ_max comes from a power iteration whose left singular vector is kept between calls, so after a
    first converging call each call costs two matrix-vector products per iteration instead of an SVD
    (a full SVD of a 400×784 layer costs tens of ms, longer than a training step)."""

    def __init__(self, warm_iterations: int = 10, cold_iterations: int = 100):
        self.warm_iterations = warm_iterations
        self.cold_iterations = cold_iterations
        self._left_vectors: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def __call__(self, net: nn.Module, prefix: str) -> dict[str, float]:
        stats: dict[str, float] = {}
        # eval mode: reading a spectrally normalized weight in train mode would run its power iteration
        with eval_mode(net):
            for name, module in net.named_modules():
                if isinstance(module, WEIGHTED_LAYERS):
                    key = f"{prefix}/{name}"
                    matrix = weight_matrix(module)
                    stats[f"weight_norm/{key}"] = float(torch.linalg.matrix_norm(matrix))
                    stats[f"spectral_norm/{key}"] = self._largest_singular_value(key, matrix)
        return stats

    def _largest_singular_value(self, key: str, matrix: torch.Tensor) -> float:
        u = self._left_vectors.get(key)
        iterations = self.warm_iterations
        if u is None or u.shape[0] != matrix.shape[0]:
            start = torch.randn(matrix.shape[0], generator=torch.Generator().manual_seed(0))
            u = nn.functional.normalize(start.to(matrix.device), dim=0)
            iterations = self.cold_iterations
        for _ in range(iterations):
            v = nn.functional.normalize(matrix.T @ u, dim=0)
            u = nn.functional.normalize(matrix @ v, dim=0)
        self._left_vectors[key] = u
        return float(u @ (matrix @ v))
