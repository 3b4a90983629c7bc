"""The workers' fork server: what it loads before it forks must not make a forked worker unusable."""
from __future__ import annotations

import subprocess
import sys

from genlab.live.pool import PRELOAD

NO_CUDA_PROBE = f"""
import torch
touched = []
def refuse(name):
    def call(*args, **kwargs):
        touched.append(name)
        raise RuntimeError(name + " was called")
    return call
for name in ("is_available", "device_count", "init", "_lazy_init", "current_device"):
    setattr(torch.cuda, name, refuse(name))
torch._C._cuda_getDeviceCount = refuse("_cuda_getDeviceCount")
import {PRELOAD}
assert not touched and not torch.cuda.is_initialized(), touched
print("preloaded", "torch._dynamo" in __import__("sys").modules)
"""


def test_the_preload_loads_torch_and_never_asks_for_cuda(repo_root):
    """A CUDA context does not survive a fork: the fork server must leave CUDA alone, so that a worker
    forked from it can still pick a GPU."""
    done = subprocess.run([sys.executable, "-c", NO_CUDA_PROBE], cwd=repo_root, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "preloaded True"
