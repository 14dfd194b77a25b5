"""The time cost of one checkpoint (weights + optimizer/RNG/data state, fsynced) per preset.

    python benchmarks/checkpoint_cost.py [--presets style_emoji128,stargan_celeba] [--repeats 5]

Builds each preset's networks and optimizers at full size on synthetic data (no training
needed: Adam's moments are allocated by one step), then times ``Trainer.save()`` ``--repeats``
times into a temporary run folder on the disk given by ``--dir`` (default: the system's temp
folder). Prints the checkpoint size and the median/max seconds, so a ``train.ckpt_minutes``
interval can be chosen where checkpoints cost a small fraction of the time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.config import load_config  # noqa: E402
from gankit.train.trainer import Trainer  # noqa: E402


class _AttrSynthetic:
    """Synthetic images with 5 binary attributes (so editor presets build without a dataset)."""

    target_kind, attr_names = "attributes", ["a", "b", "c", "d", "e"]

    def __init__(self, n: int, resolution: int):
        import torch

        g = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (n, 3, resolution, resolution), dtype=torch.uint8, generator=g)
        self.labels = (torch.rand(n, 5, generator=g) < 0.5).float()
        self.resolution, self.channels = resolution, 3

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], self.labels[i]


def measure(preset: str, repeats: int, root: str, device: str) -> dict:
    base = load_config(preset)
    over = ["data.path=null", "data.attrs=[]", "train.progress=false", "train.sample_every=0", "train.ckpt_every=0",
            f"train.device={device}", "train.batch_size=2", "optim.n_critic=1", "data.num_workers=0"]
    attrs = base.recipe.name in ("stargan", "aclgan")
    if not attrs:
        over = [o for o in over if not o.startswith("data.attrs")] + ["data.name=synthetic", "data.limit=8"]
    cfg = load_config(preset, over)
    with tempfile.TemporaryDirectory(dir=root) as run:
        src = _AttrSynthetic(8, cfg.data.resolution) if attrs else None
        tr = Trainer(cfg, run, source=src)
        tr.train_step({})  # allocates Adam's moments, as in a real run
        times = []
        size = 0
        for _ in range(repeats):
            t0 = time.perf_counter()
            path = tr.save()
            times.append(time.perf_counter() - t0)
            size = sum(f.stat().st_size for f in path.iterdir())
        n_params = sum(p.numel() for n in tr.nets.values() for p in n.parameters())
    return {"preset": preset, "params_M": n_params / 1e6, "size_MB": size / 2**20,
            "median_s": statistics.median(times), "max_s": max(times)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", default="style_emoji128,stargan_celeba,aclgan_celeba,sngan_fashion,dcgan_fashion")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--dir", default=None, help="folder on the disk to measure (default: the temp folder)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    print(f"{'preset':<16} {'params':>8} {'size':>9} {'median':>8} {'max':>8}")
    for preset in args.presets.split(","):
        r = measure(preset, args.repeats, args.dir, args.device)
        print(f"{r['preset']:<16} {r['params_M']:7.2f}M {r['size_MB']:7.1f}MB {r['median_s']:7.3f}s {r['max_s']:7.3f}s")


if __name__ == "__main__":
    main()
