"""Periodic FID in training: logged with its protocol, 'best' checkpoint kept, resumable."""

import json

import torch

from gankit.data.synthetic import write_folder
from gankit.pipelines import load_generator
from gankit.train.state import load_checkpoint
from gankit.train.trainer import Trainer


class PooledRGB:
    """A cheap deterministic stand-in for the Inception network (NOT the standard FID)."""

    sha1 = "test-pooled-rgb"
    resampler = "nv"

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255.0
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)


def test_periodic_fid_and_best_checkpoint(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    ref = write_folder(tmp_path / "ref", n=24, resolution=32)
    cfg = tiny("dcgan_fashion", "train.steps=4", "train.fid_every=2", "train.fid_samples=24", f"train.fid_ref={ref}")
    tr = Trainer(cfg, tmp_path / "run")
    tr.fid_extractor = PooledRGB()
    tr.fit()
    events = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    fids = [e for e in events if "fid" in e]
    assert [e["step"] for e in fids] == [2, 4]
    assert all(e["fid"] >= 0 and "fid24" in e["fid_protocol"] for e in fids)
    best = min(e["fid"] for e in fids)
    assert fids[-1]["best_fid"] == best
    tensors, st = load_checkpoint(tmp_path / "run" / "checkpoints" / "best")
    assert st["extra"]["best_fid"] == best
    assert st["step"] == [e["step"] for e in fids if e["fid"] == best][0]
    g, _ = load_generator(tmp_path / "run" / "checkpoints" / "best")
    assert g(torch.randn(2, 8)).shape == (2, 3, 32, 32)
    # the best value survives a resume (a worse FID later must not replace 'best')
    tr2 = Trainer(tiny("dcgan_fashion", "train.steps=5", "train.fid_every=2", "train.fid_samples=24", f"train.fid_ref={ref}"),
                  tmp_path / "run", resume=True)
    tr2.fid_extractor = PooledRGB()
    tr2.fit()
    assert tr2.extra_state["best_fid"] == best
