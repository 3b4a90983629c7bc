"""Dirac-GAN (Mescheder et al. 2018) with the project's own loss and penalty functions.

G(z) = θ, D(x) = ψ·x, real data at 0; alternating gradient steps of size h from θ = ψ = 1.
"""
import torch

from genlab.losses import discriminator_loss, generator_loss
from genlab.regularizers import r1_penalty


def train_dirac_gan(r1_gamma: float, steps: int = 500, h: float = 0.2) -> float:
    theta = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    psi = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    critic = lambda x: psi * x.reshape(-1)
    real = torch.zeros(1, 1, dtype=torch.float64)
    for _ in range(steps):
        fake = theta.detach().reshape(1, 1)
        loss_d = discriminator_loss("minimax", critic(real), critic(fake))
        if r1_gamma:
            loss_d = loss_d + r1_gamma * r1_penalty(critic, real)
        (grad_psi,) = torch.autograd.grad(loss_d, psi)
        with torch.no_grad():
            psi -= h * grad_psi
        loss_g = generator_loss("minimax", critic(theta.reshape(1, 1)))
        (grad_theta,) = torch.autograd.grad(loss_g, theta)
        with torch.no_grad():
            theta -= h * grad_theta
    return float(torch.stack([theta.detach(), psi.detach()]).norm())


def test_unregularized_dirac_gan_does_not_converge():
    assert train_dirac_gan(r1_gamma=0.0) > 1.0


def test_r1_regularized_dirac_gan_converges():
    assert train_dirac_gan(r1_gamma=1.0) < 1e-3
