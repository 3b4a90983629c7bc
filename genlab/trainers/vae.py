"""VAE trainer: negative ELBO with β, capacity C and KL warm-up, all live; optionally on augmented
training images (augment.vae_input, genlab.augment.inputs). The KL per latent dimension ("kl/dim_<i>")
is recorded with the per-layer statistics, every stats_every steps, as its mean over the batches since
the last reading: steadier bars than one batch's, and 20-odd values fewer to read and record a step."""
from __future__ import annotations

import torch
from torch import Tensor

from genlab import losses
from genlab.augment import augment_input
from genlab.config import RunConfig
from genlab.data import DataSource
from genlab.models import build_vae
from genlab.trainers.base import PREVIEW_COUNT, Trainer, make_optimizer
from genlab.trainers.penalties import add_penalties
from genlab.nn_utils import eval_mode


class VAETrainer(Trainer):
    def __init__(self, config: RunConfig, device=None, data: DataSource | None = None):
        super().__init__(config, device, data)
        self.vae = build_vae(self.config.model, self.data_shape).to(self.device)
        self.networks = {"encoder": self.vae.encoder, "decoder": self.vae.decoder}
        self._watch_layers()
        optim = self.config.optim
        self.optimizers = {
            "vae": make_optimizer(
                self.config,
                [
                    {"params": self.vae.encoder.parameters(), "lr": optim.lr_encoder, "name": "encoder"},
                    {"params": self.vae.decoder.parameters(), "lr": optim.lr_decoder, "name": "decoder"},
                ],
            )
        }
        self._apply_learning_rates()
        self.fixed_noise = self._noise(PREVIEW_COUNT)
        self._kl_dims_total: Tensor | None = None  # Σ of each step's KL per dimension since the last reading
        self._kl_dims_steps = 0

    def _apply_learning_rates(self) -> None:
        scale = self._learning_rate_factor()
        lr = {"encoder": self.config.optim.lr_encoder * scale, "decoder": self.config.optim.lr_decoder * scale}
        for group in self.optimizers["vae"].param_groups:
            group["lr"] = lr[group["name"]]

    def reconstruction_nll(self, decoded: Tensor, x: Tensor) -> Tensor:
        """-log p(x|z) per sample under the configured likelihood."""
        obj = self.config.objective
        if obj.likelihood == "bernoulli":
            return losses.bernoulli_nll(decoded, x)
        return losses.gaussian_nll(decoded, x, obj.gaussian_std)

    def _reconstruction_nll_batch_mean(self, decoded: Tensor, x: Tensor) -> Tensor:
        """The mean of `reconstruction_nll` over the batch (the training loss's term)."""
        if self.config.objective.likelihood == "bernoulli":
            return losses.bernoulli_nll_batch_mean(decoded, x)
        return self.reconstruction_nll(decoded, x).mean()

    def step(self) -> dict[str, float]:
        obj = self.config.objective
        x = self.model_space(self._real_batch())
        if self.config.augment.vae_input != "off" and self.data.kind == "images":
            x = augment_input(x, self.config.augment.vae_input, self.rng)
        mu, logvar = (value.float() for value in self.vae.encode(x))  # the KL in float32 under bf16 autocast
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, device=self.device, generator=self.rng)
        recon = self._reconstruction_nll_batch_mean(self.vae.decode(z), x)
        kl_dims = losses.kl_standard_normal(mu, logvar).mean(0)
        kl = kl_dims.sum()
        beta = obj.beta * losses.kl_warmup_factor(self.step_count, obj.kl_warmup_steps)
        loss = recon + losses.kl_weight_term(kl, beta, obj.capacity)
        terms: dict[str, Tensor] = {"loss/recon": recon, "loss/kl": kl}
        for network in ("encoder", "decoder"):
            loss = add_penalties(loss, network, self, terms)
        terms["loss/total"] = loss
        grads = self._descend("vae", loss, terms, {name: self.networks[name] for name in ("encoder", "decoder")})

        metrics = {name: value.detach() for name, value in terms.items()}
        metrics.update(grads)
        metrics["beta/effective"] = beta
        kl_dims_mean = self._kl_dims_mean_if_due(kl_dims.detach())
        if kl_dims_mean is not None:
            metrics["kl/dim"] = kl_dims_mean
        return self._finish_step(metrics)

    def _kl_dims_mean_if_due(self, kl_dims: Tensor) -> Tensor | None:
        """Adds this step's KL per dimension to the running total; at a stats_every step, returns their
        mean since the last reading and starts over."""
        self._kl_dims_total = kl_dims if self._kl_dims_total is None else self._kl_dims_total + kl_dims
        self._kl_dims_steps += 1
        if (self.step_count + 1) % self.config.stats_every:
            return None
        mean = self._kl_dims_total / self._kl_dims_steps
        self._kl_dims_total, self._kl_dims_steps = None, 0
        return mean

    def state_dict(self) -> dict:
        state = super().state_dict()
        total = self._kl_dims_total if self._kl_dims_total is not None else torch.zeros(self.latent_dim, device=self.device)
        steps = torch.full((1,), float(self._kl_dims_steps), device=self.device)  # no host wait on CUDA
        state["kl_dims"] = torch.cat([total.float(), steps])  # the running KL per dimension, then its step count
        return state

    def load_state_dict(self, state: dict) -> None:
        """Also the running KL per dimension: a rollback drops the undone steps from it, a resumed run
        continues it. Missing (a run saved before it was kept) or malformed: it starts over."""
        super().load_state_dict(state)
        self._kl_dims_total, self._kl_dims_steps = None, 0
        saved = state.get("kl_dims")
        if isinstance(saved, Tensor) and saved.shape == (self.latent_dim + 1,) and saved.is_floating_point():
            saved = saved.to(self.device, torch.float32)
            steps = float(saved[-1])
            if steps.is_integer() and 0 < steps < self.config.stats_every and bool(torch.isfinite(saved).all()):
                self._kl_dims_total, self._kl_dims_steps = saved[:-1].clone(), int(steps)

    # --- inspection --------------------------------------------------------------------------------
    def model_space(self, x: Tensor) -> Tensor:
        """Data-space inputs as the VAE sees them: a user's points standardized (genlab.data.standardize),
        images as they are. Its losses and likelihoods are in this space."""
        return x if self.data.kind == "images" else self.standardization.to_model(x)

    def _decoded_to_data_space(self, decoded: Tensor) -> Tensor:
        if self.config.objective.likelihood == "bernoulli":
            return torch.sigmoid(decoded)
        return decoded.clamp(0.0, 1.0) if self.data.kind == "images" else self.standardization.to_data(decoded)

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """Decoder mean in data space (images in [0, 1])."""
        with eval_mode(self.vae):
            return self._decoded_to_data_space(self.vae.decode(z.to(self.device)))

    generate = decode  # a VAE generates by decoding prior samples

    @torch.no_grad()
    def encode(self, x: Tensor) -> Tensor:
        """Posterior mean E[z|x] for data-space inputs."""
        with eval_mode(self.vae):
            mu, _ = self.vae.encode(self.model_space(x.to(self.device)))
        return mu

    def preview(self, n: int = PREVIEW_COUNT) -> Tensor:
        return self.decode(self.fixed_noise[:n]).cpu()

