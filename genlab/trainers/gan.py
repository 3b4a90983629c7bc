"""GAN trainer: n_critic discriminator steps per generator step, every regularizer live.

D sees real and generated images through the same augmentation (genlab.augment: off, DiffAugment or
ADA, live), in its own update and in G's, so G learns through it. With transfer.freeze_d > 0 the first
layers of D do not train (FreezeD). Every stats_every steps D's accuracy on a fixed batch of training
images and one of held-out images is recorded ("d/acc_train", "d/acc_heldout"): when the first climbs
and the second falls, D is memorizing the training set.
"""
from __future__ import annotations

import torch
from torch import Tensor

from genlab import losses
from genlab.augment import AdaptiveProbability, discriminator_view
from genlab.config import RunConfig
from genlab.data import DataSource
from genlab.models import build_gan
from genlab.models.freeze import freeze_first_layers
from genlab.regularizers import clip_weights_
from genlab.trainers.base import PREVIEW_COUNT, Trainer, make_optimizer
from genlab.trainers.optimizer_step import optimizer_step
from genlab.trainers.penalties import add_penalties
from genlab.nn_utils import eval_mode

OVERFIT_BATCH = 128  # images in each fixed batch D's accuracy is measured on


class GANTrainer(Trainer):
    def __init__(self, config: RunConfig, device=None, data: DataSource | None = None):
        super().__init__(config, device, data)
        self.generator, self.discriminator = build_gan(self.config.model, self.data_shape)
        self.generator.to(self.device)
        self.discriminator.to(self.device)
        # a second generator holding the moving average of G's weights, used for samples
        self.generator_ema = build_gan(self.config.model, self.data_shape)[0].to(self.device).requires_grad_(False)
        self.generator_ema.load_state_dict(self.generator.state_dict())
        self._generator_has_buffers = any(True for _ in self.generator.buffers())  # BatchNorm statistics
        self.networks = {"generator": self.generator, "discriminator": self.discriminator}
        self._watch_layers()
        self.frozen_layers = freeze_first_layers(self.discriminator, self.config.transfer.freeze_d)
        self._d_trainable = [p for p in self.discriminator.parameters() if p.requires_grad]
        optim = self.config.optim
        self.optimizers = {
            "generator": make_optimizer(self.config, [{"params": self.generator.parameters(),
                                                       "lr": optim.lr_generator}]),
            "discriminator": make_optimizer(self.config, [{"params": self._d_trainable,
                                                           "lr": optim.lr_discriminator}]),
        }
        self._apply_learning_rates()
        self.images = self.data.kind == "images"
        self.ada = AdaptiveProbability()
        self._overfit_batches: tuple[Tensor, Tensor] | None = None
        self.fixed_noise = self._noise(PREVIEW_COUNT)

    def _apply_learning_rates(self) -> None:
        scale = self._learning_rate_factor()
        for group in self.optimizers["generator"].param_groups:
            group["lr"] = self.config.optim.lr_generator * scale
        for group in self.optimizers["discriminator"].param_groups:
            group["lr"] = self.config.optim.lr_discriminator * scale

    # --- data space <-> model space -----------------------------------------------------------
    def _to_model_space(self, x: Tensor) -> Tensor:
        return x * 2.0 - 1.0 if self.images else self.standardization.to_model(x)  # images: tanh range [-1, 1]

    def _to_data_space(self, x: Tensor) -> Tensor:
        return ((x + 1.0) / 2.0).clamp(0.0, 1.0) if self.images else self.standardization.to_data(x)

    def _seen_by_d(self, x: Tensor) -> Tensor:
        """A batch (real or generated, in model space) as D sees it: through the augmentation."""
        return discriminator_view(x, self.config.augment, self.rng, self.ada.p) if self.images else x

    # --- steps -----------------------------------------------------------------------------------
    def step(self) -> dict[str, float]:
        """n_critic discriminator updates and one generator update; one entry in the step count.
        Alternating (optim.updates): G's update comes after D's and meets the new D. Simultaneous: G's
        gradient is taken at the D that D's last update starts from, and both networks step after
        that (the Dirac-GAN lab's two schemes, genlab.theory.dynamics). Both draw the same batches."""
        metrics: dict[str, Tensor] = {}
        optim = self.config.optim
        separate = optim.updates == "alternating"
        if optim.n_critic == 1:
            # one generator pass serves both updates (as in pytorch/examples' dcgan): G's weights
            # do not change during D's update, so the same fakes are exact for G's loss
            fake = self.generator(self._noise(optim.batch_size))
            metrics.update(self._discriminator_update(fake.detach(), step=separate))
            metrics.update(self._generator_update(fake, step=separate))
        else:
            for critic_index in range(optim.n_critic):
                last = critic_index == optim.n_critic - 1
                metrics.update(self._discriminator_update(critic_index=critic_index, step=separate or not last))
            metrics.update(self._generator_update(step=separate))
        if not separate:
            self._step_discriminator()
            self._step_generator()
        metrics["loss/total"] = metrics["loss/d"] + metrics["loss/g"]
        return self._finish_step(metrics)

    def step_d(self) -> dict[str, float]:
        """One discriminator update only."""
        return self._finish_step(self._discriminator_update())

    def step_g(self) -> dict[str, float]:
        """One generator update only."""
        return self._finish_step(self._generator_update())

    def _lazy_weight(self, critic_index: int) -> int:
        """What R1 and R2 count for in this D update: k = objective.lazy_interval times on every k-th
        update of the run (counted as step · n_critic + critic_index, so a resumed or rolled-back run
        keeps its rhythm without extra state), 0 (not computed) on the others."""
        interval = self.config.objective.lazy_interval
        update = self.step_count * self.config.optim.n_critic + critic_index
        return interval if update % interval == 0 else 0

    def _discriminator_update(self, fake: Tensor | None = None, critic_index: int = 0,
                              step: bool = True) -> dict[str, Tensor]:
        """D's loss and gradients, and its step unless `step` is False (simultaneous updates step later)."""
        obj = self.config.objective
        G, D = self.generator, self.discriminator
        real = self._to_model_space(self._real_batch())
        if fake is None:
            with torch.no_grad():
                fake = G(self._noise(real.shape[0]))
        lazy_weight = self._lazy_weight(critic_index)
        real, fake, real_logits, fake_logits = self._judge(self._seen_by_d(real), self._seen_by_d(fake),
                                                           input_gradients=lazy_weight > 0)
        adv = losses.discriminator_loss(obj.gan_loss, real_logits, fake_logits)
        terms = {"loss/d_adv": adv}
        loss = add_penalties(adv, "discriminator", self, terms, real=real, fake=fake,
                             real_scores=real_logits, fake_scores=fake_logits, lazy_weight=lazy_weight)
        terms["loss/d"] = loss
        grads = self._descend("discriminator", loss, terms, {"d": D}, step=False)
        if step:
            self._step_discriminator()

        with torch.no_grad():
            terms["d/real"] = losses.discriminator_output(obj.gan_loss, real_logits).mean()
            terms["d/fake"] = losses.discriminator_output(obj.gan_loss, fake_logits).mean()
            terms["value/V"] = losses.gan_value(real_logits, fake_logits)
        terms.update(grads)
        if self.config.augment.policy == "ada" and self.images:
            augment = self.config.augment
            self.ada.observe(losses.decision_margin(obj.gan_loss, real_logits), augment.ada_target, augment.ada_speed)
            terms["d/augment_p"] = torch.tensor(self.ada.p)
            if self.ada.r_t == self.ada.r_t:  # NaN until the first 4 batches are in
                terms["d/r_t"] = torch.tensor(self.ada.r_t)
        return {name: value.detach() for name, value in terms.items()}

    def _judge(self, real: Tensor, fake: Tensor, input_gradients: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(real, fake, D(real), D(fake)) for D's update. R1 and R2 differentiate D at its inputs: with
        either on and `input_gradients` (an update that carries them), that batch comes back detached
        and requiring grad, and the penalty takes its gradient from the same pass as the loss (one pass
        of D fewer per step, as Mescheder et al.'s code does it). Without them (or on an update lazy
        regularization skips) an MLP critic judges both batches in one pass over the two stacked: no
        critic in genlab.models mixes samples, so each logit is what a pass of its own would give,
        and on the 2D nets a pass is mostly per-operation overhead (8 % off the ring GAN's step
        without R1, one CPU thread; under spectral normalization both batches then meet the same
        normalized weights: one power iteration per update, as in Miyato et al.). A convolutional
        critic makes two passes, which ran faster on CPU than one over twice the batch (10 % on the
        Fashion-MNIST preset). Logits come back in float32, so that under bf16 autocast the losses
        and their readouts are not rounded to bf16's three digits."""
        D, obj = self.discriminator, self.config.objective
        if obj.r1_gamma > 0 and input_gradients:
            real = real.detach().requires_grad_(True)
        if obj.r2_gamma > 0 and input_gradients:
            fake = fake.detach().requires_grad_(True)
        if self.config.model.arch == "mlp" and not (real.requires_grad or fake.requires_grad):
            logits = D(torch.cat([real, fake])).float()
            return real, fake, logits[: real.shape[0]], logits[real.shape[0]:]
        return real, fake, D(real).float(), D(fake).float()

    def _generator_update(self, fake: Tensor | None = None, step: bool = True) -> dict[str, Tensor]:
        """G's loss through D and its gradients, and its step unless `step` is False."""
        obj = self.config.objective
        G, D = self.generator, self.discriminator
        if fake is None:
            fake = G(self._noise(self.config.optim.batch_size))
        for parameter in self._d_trainable:  # G's update needs gradients through D, not for D's weights
            parameter.requires_grad_(False)
        try:
            adv = losses.generator_loss(obj.gan_loss, D(self._seen_by_d(fake)).float())
        finally:
            for parameter in self._d_trainable:
                parameter.requires_grad_(True)
        terms = {"loss/g_adv": adv}
        loss = add_penalties(adv, "generator", self, terms)
        terms["loss/g"] = loss
        terms.update(self._descend("generator", loss, terms, {"g": G}, step=False))
        if step:
            self._step_generator()
        return {name: value.detach() for name, value in terms.items()}

    def _step_discriminator(self) -> None:
        """D's optimizer step from the gradients in place, then weight clipping when it is on."""
        optimizer_step(self.optimizers["discriminator"])
        if self.config.objective.weight_clip > 0:
            clip_weights_(self._d_trainable, self.config.objective.weight_clip)

    def _step_generator(self) -> None:
        """G's optimizer step from the gradients in place, then its moving average."""
        optimizer_step(self.optimizers["generator"])
        self._update_ema()

    @torch.no_grad()
    def _update_ema(self) -> None:
        """θ_ema ← d·θ_ema + (1 − d)·θ_G (a plain copy when d = 0); buffers are copied."""
        weight = 1.0 - self.config.optim.ema_decay
        torch._foreach_lerp_(self._parameters_of(self.generator_ema), self._parameters_of(self.generator), weight)
        if self._generator_has_buffers:  # moving memory layout replaces buffers: not listed once
            for ema_buffer, buffer in zip(self.generator_ema.buffers(), self.generator.buffers()):
                ema_buffer.copy_(buffer)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["networks"]["generator_ema"] = self.generator_ema.state_dict()
        state["ada"] = self.ada.state()
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.generator_ema.load_state_dict(state["networks"].get("generator_ema", self.generator.state_dict()))
        if "ada" in state:
            self.ada.load(state["ada"])

    # --- overfitting: D's accuracy on training vs held-out images ----------------------------------
    def periodic_stats(self) -> dict[str, float]:
        stats = super().periodic_stats()
        batches = self._fixed_real_batches() if self.images else None
        if batches is not None:
            kind = self.config.objective.gan_loss
            with torch.no_grad(), eval_mode(self.discriminator):
                accuracies = [(losses.decision_margin(kind, self.discriminator(batch)) > 0).float().mean()
                              for batch in batches]
            stats.update(zip(("d/acc_train", "d/acc_heldout"), torch.stack(accuracies).tolist()))  # one read
        return stats

    def _fixed_real_batches(self) -> tuple[Tensor, Tensor] | None:
        """(training images, held-out images), OVERFIT_BATCH of each in model space, drawn once with a
        generator of their own (training does not change); None while there is no held-out data."""
        if self._overfit_batches is None:
            heldout = self.heldout_data()
            if heldout is None:
                return None
            draw = torch.Generator().manual_seed(self.config.seed + 104_729)
            batches = []
            for source in (self.data, heldout):
                index = torch.randperm(len(source), generator=draw)[:OVERFIT_BATCH]
                batches.append(self._to_model_space(source.batch(index.to(source.device)).to(self.device)))
            self._overfit_batches = (batches[0], batches[1])
        return self._overfit_batches

    # --- inspection --------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, z: Tensor) -> Tensor:
        """G(z) in data space (images in [0, 1]), in eval mode; the EMA generator when EMA is on."""
        generator = self.generator_ema if self.config.optim.ema_decay > 0 else self.generator
        with eval_mode(generator):
            return self._to_data_space(generator(z.to(self.device)))

    def preview(self, n: int = PREVIEW_COUNT) -> Tensor:
        return self.generate(self.fixed_noise[:n]).cpu()

    @torch.no_grad()
    def critic(self, x: Tensor) -> Tensor:
        """D's raw output on data-space inputs (for the 2D heatmap)."""
        with eval_mode(self.discriminator):
            return self.discriminator(self._to_model_space(x.to(self.device))).cpu()

    def generator_field(self, points: Tensor) -> Tensor:
        """-∇_x loss_G(D(x)) per point: where G's loss pushes a generated sample sitting at x."""
        with eval_mode(self.discriminator):
            x = points.to(self.device).detach().requires_grad_(True)  # the gradient in data space
            logits = self.discriminator(self._to_model_space(x))
            per_sample = losses.generator_loss(self.config.objective.gan_loss, logits) * x.shape[0]
            (grad,) = torch.autograd.grad(per_sample, x)
        return (-grad).cpu()
