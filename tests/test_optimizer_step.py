"""genlab.trainers.optimizer_step against torch's own Adam step: the same weights and state to the bit,
and torch's step wherever the short path does not apply."""
from __future__ import annotations

import copy

import pytest
import torch

from genlab.trainers.optimizer_step import clear_gradients, optimizer_step

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def two_networks(device: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    first = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1)).to(device)
    second = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).to(device)
    return first, second


def adam_over(networks, frozen: torch.nn.Parameter | None = None, **options) -> torch.optim.Adam:
    """Adam over two parameter groups (one per network) with different betas and weight decay."""
    first, second = networks
    return torch.optim.Adam([
        {"params": [p for p in first.parameters() if p is not frozen], "lr": 3e-3},
        {"params": list(second.parameters()) + ([frozen] if frozen is not None else []), "lr": 3e-3,
         "betas": (0.0, 0.9), "weight_decay": 1e-2},
    ], fused=True, **options)


def backward(networks, step: int, device: str) -> None:
    first, second = networks
    generator = torch.Generator(device).manual_seed(step)
    x = torch.randn(32, 3, device=device, generator=generator)
    (first(x).pow(2).mean() + second(first(x)).abs().mean()).backward()


def train(networks, optimizer, steps: int, device: str, update) -> None:
    for step in range(steps):
        clear_gradients(optimizer)
        backward(networks, step, device)
        if step == 10:  # the groups' rates part, as a cool-down or a live slider does it
            optimizer.param_groups[1]["lr"] = 1e-3
        update(optimizer)


def assert_same(networks_a, optimizer_a, networks_b, optimizer_b) -> None:
    for a, b in zip(networks_a, networks_b):
        for pa, pb in zip(a.parameters(), b.parameters()):
            assert torch.equal(pa, pb)
    state_a, state_b = optimizer_a.state_dict(), optimizer_b.state_dict()
    assert state_a["param_groups"] == state_b["param_groups"]
    assert state_a["state"].keys() == state_b["state"].keys()
    for index, entry in state_a["state"].items():
        for name, tensor in entry.items():
            assert torch.equal(tensor, state_b["state"][index][name]), (index, name)


@pytest.mark.parametrize("device", DEVICES)
def test_the_short_step_makes_torchs_update_to_the_bit(device):
    ours, theirs = two_networks(device), None
    theirs = copy.deepcopy(ours)
    optimizer_ours, optimizer_theirs = adam_over(ours), adam_over(theirs)
    train(ours, optimizer_ours, 25, device, optimizer_step)
    train(theirs, optimizer_theirs, 25, device, lambda optimizer: optimizer.step())
    assert_same(ours, optimizer_ours, theirs, optimizer_theirs)
    assert optimizer_ours.state[next(ours[0].parameters())]["step"].item() == 25


def test_parameters_without_a_gradient_are_left_alone_as_torch_leaves_them():
    ours = two_networks("cpu")
    theirs = copy.deepcopy(ours)
    frozen_ours = torch.nn.Parameter(torch.ones(4))  # in a group, never in the loss: no gradient
    frozen_theirs = torch.nn.Parameter(torch.ones(4))
    optimizer_ours, optimizer_theirs = adam_over(ours, frozen_ours), adam_over(theirs, frozen_theirs)
    train(ours, optimizer_ours, 5, "cpu", optimizer_step)
    train(theirs, optimizer_theirs, 5, "cpu", lambda optimizer: optimizer.step())
    assert_same(ours, optimizer_ours, theirs, optimizer_theirs)
    assert torch.equal(frozen_ours, torch.ones(4)) and frozen_ours not in optimizer_ours.state


def test_a_state_loaded_into_the_optimizer_is_the_one_updated():
    """A rollback or a resumed run loads new state tensors into the optimizer: the next step must use them."""
    ours = two_networks("cpu")
    theirs = copy.deepcopy(ours)
    optimizer_ours, optimizer_theirs = adam_over(ours), adam_over(theirs)
    train(ours, optimizer_ours, 3, "cpu", optimizer_step)
    train(theirs, optimizer_theirs, 3, "cpu", lambda optimizer: optimizer.step())
    saved = copy.deepcopy(optimizer_theirs.state_dict())
    train(ours, optimizer_ours, 4, "cpu", optimizer_step)
    optimizer_ours.load_state_dict(saved)
    for a, b in zip(ours, theirs):
        a.load_state_dict(b.state_dict())
    train(ours, optimizer_ours, 6, "cpu", optimizer_step)
    train(theirs, optimizer_theirs, 6, "cpu", lambda optimizer: optimizer.step())
    assert_same(ours, optimizer_ours, theirs, optimizer_theirs)


def count_torch_steps(optimizer) -> list[int]:
    """A list that grows by one at each call of `optimizer`'s own step()."""
    calls: list[int] = []
    torch_step = optimizer.step

    def counted_step(*args, **kwargs):
        calls.append(1)
        return torch_step(*args, **kwargs)

    optimizer.step = counted_step
    return calls


@pytest.mark.parametrize("case", ["first step", "amsgrad", "not fused", "step hook", "another optimizer"])
def test_torchs_step_runs_where_the_short_one_does_not_apply(case):
    networks = two_networks("cpu")
    parameters = [p for network in networks for p in network.parameters()]
    if case == "another optimizer":
        optimizer = torch.optim.SGD(parameters, lr=1e-2)
    else:
        optimizer = torch.optim.Adam(parameters, lr=1e-2, fused=case != "not fused", amsgrad=case == "amsgrad")
    torch_steps = count_torch_steps(optimizer)
    calls: list[int] = []
    if case == "step hook":
        optimizer.register_step_pre_hook(lambda optimizer, args, kwargs: calls.append(1))
    reference = copy.deepcopy(networks)
    reference_optimizer = (torch.optim.SGD if case == "another optimizer" else torch.optim.Adam)(
        [p for network in reference for p in network.parameters()], lr=1e-2,
        **({} if case == "another optimizer" else {"fused": case != "not fused", "amsgrad": case == "amsgrad"}))
    steps = 1 if case == "first step" else 3
    train(networks, optimizer, steps, "cpu", optimizer_step)
    train(reference, reference_optimizer, steps, "cpu", lambda o: o.step())
    assert len(torch_steps) == steps, "torch's step was not the one taken"
    if case == "step hook":
        assert len(calls) == steps
    for a, b in zip(networks, reference):
        for pa, pb in zip(a.parameters(), b.parameters()):
            assert torch.equal(pa, pb)


def test_clear_gradients_drops_every_gradient_the_optimizer_updates():
    networks = two_networks("cpu")
    optimizer = adam_over(networks)
    backward(networks, 0, "cpu")
    assert all(p.grad is not None for network in networks for p in network.parameters())
    clear_gradients(optimizer)
    assert all(p.grad is None for network in networks for p in network.parameters())


def test_after_its_first_step_a_fused_adam_takes_the_short_step():
    """Else the comparisons above would hold trivially."""
    networks = two_networks("cpu")
    optimizer = adam_over(networks)
    torch_steps = count_torch_steps(optimizer)
    train(networks, optimizer, 6, "cpu", optimizer_step)
    assert len(torch_steps) == 1  # the first, which creates the state

