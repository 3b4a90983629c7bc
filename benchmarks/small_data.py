"""Small data, measured: a GAN on a few hundred training images, plain vs DiffAugment vs ADA vs transfer
from a shipped run, with equal step budgets; FID on genlab's classifier features against held-out real
images (the data set's test split, which no variant trains on). Prints a table; asserts nothing.

Every variant is the app's preset for the data set (conv GAN, width 32, latent 32, batch 64, Adam 2e-4,
β₁ 0.5) on the same seeded subset of `--train-size` images, with the same seed, so the only difference is
the remedy:
    plain        nothing
    diffaugment  DiffAugment "color,translation,cutout" at strength 1 (Zhao et al. 2020)
    ada          ADA, target r_t 0.6; its speed is scaled to the short budget (--ada-speed images for p to
                 move by 1, where the paper uses 500k), else p could not move in a few hundred steps
    transfer     from the shipped run (--parent, default fashion-gan) at half the learning rate, D's first
                 layer frozen (FreezeD). For Fashion-MNIST its parent was trained on all 60k training images,
                 so this row is the ceiling a class gets by starting from a trained run, not a small-data cure
                 on its own; pass --dataset shapes to transfer to data the parent never saw.
Besides FID: D's accuracy on a fixed batch of training vs held-out real images at the end (a gap means
D memorized its training images), and ADA's final p.

    python benchmarks/small_data.py                                   # Fashion-MNIST, 500 images, 400 steps
    python benchmarks/small_data.py --steps 1500 --fid-samples 2000 --seed 1
    python benchmarks/small_data.py --variants plain,ada --dataset shapes
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
VARIANTS = ("plain", "diffaugment", "ada", "transfer")


def variant_config(name: str, args: argparse.Namespace):
    from genlab.presets import config_for
    from genlab.transfer import parent_config, transfer_config

    base = config_for("gan", args.dataset).replace(**{
        "data.train_size": args.train_size, "seed": args.seed, "stats_every": args.stats_every, "device": "cpu",
        "name": f"small-{name}"})
    if name == "diffaugment":
        return base.replace(**{"augment.policy": "color,translation,cutout", "augment.strength": 1.0}).validate()
    if name == "ada":
        return base.replace(**{"augment.policy": "ada", "augment.ada_speed": args.ada_speed}).validate()
    if name == "transfer":
        parent = parent_config(args.parent, args.root)
        return transfer_config(base, parent, args.parent, freeze_d=1, lr_scale=0.5).validate()
    return base.validate()


def run_variant(name: str, args: argparse.Namespace) -> dict[str, float | str]:
    import torch

    from genlab.metrics.fid import trainer_fid
    from genlab.transfer import new_trainer

    config = variant_config(name, args)
    trainer = new_trainer(config, runs_root=args.root)
    started = time.perf_counter()
    last: dict[str, float] = {}
    for _ in range(args.steps):
        row = trainer.step()
        last.update({key: value for key, value in row.items() if key.startswith("d/")})
    seconds = time.perf_counter() - started
    fid = trainer_fid(trainer, n_samples=args.fid_samples, generator=torch.Generator().manual_seed(args.seed),
                      split="test")
    return {"variant": name, "fid": fid["fid"], "kid": fid["kid_mean"],
            "acc_train": last.get("d/acc_train", float("nan")), "acc_heldout": last.get("d/acc_heldout", float("nan")),
            "p": last.get("d/augment_p", float("nan")), "seconds": seconds, "train_images": len(trainer.data)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion_mnist", choices=("fashion_mnist", "mnist", "shapes"))
    parser.add_argument("--train-size", type=int, default=500)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fid-samples", type=int, default=1000)
    parser.add_argument("--stats-every", type=int, default=50)
    parser.add_argument("--ada-speed", type=int, default=20_000)
    parser.add_argument("--parent", default="fashion-gan")
    parser.add_argument("--root", default=str(REPO / "checkpoints"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    print(f"# {args.dataset}, {args.train_size} training images (seeded subset), {args.steps} steps each, seed "
          f"{args.seed}; FID/KID of {args.fid_samples} samples vs as many held-out (test split) images")
    print(f"{'variant':<12} {'FID':>8} {'KID':>8} {'D acc train':>12} {'D acc held-out':>15} {'ADA p':>6} "
          f"{'s/step':>7}")
    for name in args.variants.split(","):
        r = run_variant(name, args)
        print(f"{r['variant']:<12} {r['fid']:>8.1f} {r['kid']:>8.1f} {r['acc_train']:>12.2f} "
              f"{r['acc_heldout']:>15.2f} {r['p']:>6.2f} {r['seconds'] / args.steps:>7.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
