"""Per-layer norms from the warm-started power iteration agree with an exact SVD to 1% (random matrices have a small spectral gap, the slowest case)."""
import torch
from torch import nn

from genlab.metrics.layers import LayerNormTracker


def exact_sigma(weight: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1), ord=2))


def test_tracker_matches_svd_and_follows_changing_weights():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 400), nn.LeakyReLU(), nn.Conv2d(3, 8, 4), nn.ConvTranspose2d(8, 4, 4))
    tracker = LayerNormTracker()
    for _ in range(5):  # weights drift like a training run; the kept vector follows them
        stats = tracker(net, "net")
        assert abs(stats["spectral_norm/net/0"] - exact_sigma(net[0].weight.detach())) < 1e-2 * exact_sigma(net[0].weight.detach())
        assert abs(stats["spectral_norm/net/2"] - exact_sigma(net[2].weight.detach())) < 1e-2 * exact_sigma(net[2].weight.detach())
        transposed = net[3].weight.detach().transpose(0, 1)
        assert abs(stats["spectral_norm/net/3"] - exact_sigma(transposed)) < 1e-2 * exact_sigma(transposed)
        assert abs(stats["weight_norm/net/0"] - float(net[0].weight.detach().norm())) < 1e-3
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.003 * torch.randn_like(p))
