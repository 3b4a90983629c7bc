"""Does a user's CSV train the same in any units? The ring of 8 Gaussians (PacGAN's, σ = 0.01), moved to
(300, −40) and scaled by each `--scales` factor, uploaded as dataset "points" and trained with the default
GAN settings the app gives an upload; with `--raw` also as the networks saw it before genlab.data.standardize
(the points as they are). Every 500 steps: the modes covered and the share of samples within 3σ of a
mode, measured in the ring's own units (2,500 samples from G's moving average).

    python benchmarks/points_scale.py --raw                      # ~2 CPU min: scales 0.01, 1, 100, 1000
    python benchmarks/points_scale.py --scales 1 1e4 --steps 2000
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from genlab.data import toy2d  # noqa: E402
from genlab.data.points import points_from_array  # noqa: E402
from genlab.data.standardize import Standardization  # noqa: E402
from genlab.presets import config_for  # noqa: E402
from genlab.trainers import make_trainer  # noqa: E402

SHIFT = np.array([300.0, -40.0])
CHECK_EVERY = 500


def coverage(trainer, scale: float, modes: np.ndarray, std: float) -> tuple[int, float]:
    """(modes covered, share of samples within 3σ of a mode), in the ring's units."""
    z = torch.randn(2500, trainer.latent_dim, generator=torch.Generator().manual_seed(0))
    samples = (trainer.generate(z).double().numpy() - SHIFT) / scale
    distances = np.linalg.norm(samples[:, None, :] - modes[None], axis=-1)
    near = distances.min(1) < 3 * std
    return len(set(distances.argmin(1)[near].tolist())), float(near.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[0.01, 1.0, 100.0, 1000.0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--raw", action="store_true", help="also train on the points as they are (no standardization)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ring = toy2d.make_points("ring", 2500, args.seed).numpy()
    make_modes, std = toy2d.MODES["ring"]
    modes = make_modes().numpy()
    config = config_for("gan", "points", dotted={"data.path": "upload:ring.csv", "seed": args.seed})
    print(f"ring (2,500 points, σ = {std}) moved to ({SHIFT[0]:g}, {SHIFT[1]:g}) and scaled; {args.steps} steps, seed {args.seed}, "
          "1 torch thread; modes covered / % within 3σ every 500 steps")
    for standardized in ([True, False] if args.raw else [True]):
        for scale in args.scales:
            trainer = make_trainer(config, device="cpu", data=points_from_array(ring * scale + SHIFT, origin="ring.csv"))
            if not standardized:
                trainer.standardization = Standardization()
            started, cells = time.process_time(), []
            for step in range(1, args.steps + 1):
                trainer.step()
                if step % CHECK_EVERY == 0 or step == args.steps:
                    covered, share = coverage(trainer, scale, modes, std)
                    cells.append(f"{step}: {covered}/8 {share:.0%}")
            how = "standardized" if standardized else "as they are "
            print(f"{how}  scale {scale:>8g}  " + "  ".join(cells) + f"  ({time.process_time() - started:.0f} CPU s)",
                  flush=True)


if __name__ == "__main__":
    main()
