"""Residual blocks (genlab.models.resnet) against their definitions, computed independently."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from genlab.models.resnet import DownBlock, ResDecoder, ResDiscriminator, UpBlock


def test_first_down_block_is_pooled_shortcut_plus_residual():
    torch.manual_seed(0)
    block = DownBlock(3, 8, first=True)
    x = torch.randn(2, 3, 8, 8)
    conv1, conv2 = block.residual[0], block.residual[2]
    skip = block.shortcut[1]
    residual = F.avg_pool2d(F.conv2d(F.relu(F.conv2d(x, conv1.weight, conv1.bias, padding=1)), conv2.weight,
                                     conv2.bias, padding=1), 2)
    shortcut = F.conv2d(F.avg_pool2d(x, 2), skip.weight, skip.bias)  # SNGAN's optimized block: pool first
    torch.testing.assert_close(block(x), residual + shortcut)


def test_up_block_without_batchnorm_is_upsampled_shortcut_plus_residual():
    torch.manual_seed(0)
    block = UpBlock(4, 6, batchnorm=False)
    x = torch.randn(2, 4, 5, 5)
    conv1, conv2, skip = block.residual[3], block.residual[6], block.shortcut[1]
    up = F.interpolate(x, scale_factor=2, mode="nearest")
    residual = F.conv2d(F.relu(F.conv2d(F.relu(up), conv1.weight, conv1.bias, padding=1)), conv2.weight,
                        conv2.bias, padding=1)
    torch.testing.assert_close(block(x), residual + F.conv2d(up, skip.weight, skip.bias))
    assert block(x).shape == (2, 6, 10, 10)


def test_resnet_gan_has_residual_blocks_and_its_initialisation():
    torch.manual_seed(0)
    G = ResDecoder(8, (1, 28, 28), 32, batchnorm=True, tanh=True)
    D = ResDiscriminator((1, 28, 28), 32)
    assert sum(isinstance(m, UpBlock) for m in G.modules()) == 2  # 7 -> 14 -> 28
    assert sum(isinstance(m, DownBlock) for m in D.modules()) == 2
    conv3 = torch.cat([m.weight.flatten() for m in D.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)
                       and m.in_channels == 32])
    bound = math.sqrt(2.0) * math.sqrt(6.0 / (32 * 9 + 32 * 9))  # Xavier-uniform, gain √2
    assert conv3.abs().max() <= bound and conv3.std() > 0.5 * bound / math.sqrt(3)
