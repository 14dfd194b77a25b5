"""Run under torchrun by tests/train/test_distributed.py: ``torchrun ... ddp_driver.py SPEC.json``.

SPEC: {"runs": [{"preset", "overrides", "out", "resume", "source": "attr"|null}], "fid": OUT.json|null}.
Each run trains with the real Trainer; afterwards every rank dumps its networks (EMA and buffers
included) to ``out/rank<r>.pt`` so the test can check that the ranks agree. "fid": FID of a fixed
tiny generator against a fixed array, with feature extraction split over the ranks.
"""

from __future__ import annotations

import json
import os
import sys

import torch

torch.set_num_threads(1)


def AttrSource(n: int = 16):
    """Blob images with 3 random binary attributes (an attribute dataset in memory)."""
    from gankit.data.synthetic import SyntheticAttributes

    return SyntheticAttributes(n)


class Pooled:
    """uint8 images -> 4x4 average-pooled RGB features (a cheap stand-in for Inception)."""

    sha1, resampler = "pooled", "nv"

    def __call__(self, images):
        x = images.float() / 255.0
        return torch.nn.functional.adaptive_avg_pool2d(x.expand(-1, 3, -1, -1), 4).flatten(1)


class TinyG(torch.nn.Module):
    """G(z) -> [N, 1, 8, 8] in [-1, 1], seeded weights."""

    z_dim, n_classes = 4, 0

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(4, 64)

    def forward(self, z, c=None):
        return torch.tanh(self.fc(z)).view(-1, 1, 8, 8)


def fid_ref():
    return (torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 255).to(torch.uint8)


def fid_job(out: str) -> None:
    from gankit.metrics.api import FIDMonitor
    from gankit.metrics.sources import ArraySource, noise_sampler
    from gankit.train.distributed import setup

    d, _ = setup("cpu")
    mon = FIDMonitor(ArraySource(fid_ref(), name="ref"), n_samples=37, batch=5, extractor=Pooled())
    value = mon(noise_sampler(TinyG()), (d.rank, d.world), d.gather_objects)["fid"]
    values = d.gather_objects(value)
    full = evaluate_job((d.rank, d.world), d.gather_objects)
    if d.is_main:
        with open(out, "w") as f:
            json.dump({"fid": values, "evaluate": full}, f)


def evaluate_job(shard=(0, 1), gather=None) -> dict:
    """``gankit eval``'s computation (FID, KID, precision/recall) of a generator against an array."""
    from gankit.metrics.api import evaluate
    from gankit.metrics.sources import ArraySource, GeneratorSource, noise_sampler

    gen = GeneratorSource(noise_sampler(TinyG()), n=23, batch=4, seed=1)
    ref = ArraySource(fid_ref(), name="ref", batch=6)
    res = evaluate(gen, ref, ("fid", "kid", "pr"), Pooled(), kid_subsets=5, kid_subset_size=10, use_cache=False,
                   shard=shard, gather=gather)
    return {k: res[k]["value"] for k in ("fid", "kid", "precision", "recall")} | {"n_gen": res["n_gen"], "n_ref": res["n_ref"]}


def main(spec_path: str) -> None:
    from gankit.config import load_config
    from gankit.train.trainer import Trainer

    spec = json.load(open(spec_path))
    for job in spec.get("runs", []):
        cfg = load_config(job["preset"], job["overrides"])
        src = AttrSource() if job.get("source") == "attr" else None
        torch.manual_seed(0)
        tr = Trainer(cfg, job["out"], resume=job.get("resume", False), source=src)
        tr.fit()
        torch.save({k: v.detach().cpu() for k, v in
                    ((f"{n}.{p}", t) for n, m in tr._all_nets().items() for p, t in m.state_dict().items())},
                   os.path.join(job["out"], f"rank{tr.dist.rank}.pt"))
    if spec.get("fid"):
        fid_job(spec["fid"])


if __name__ == "__main__":
    main(sys.argv[1])
