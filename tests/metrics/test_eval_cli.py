"""`gankit eval` / `gankit stats` end to end on tiny folders with a stand-in extractor."""

import argparse
import json

import numpy as np
import pytest
import torch
from PIL import Image

import gankit.cli.eval as cli_eval
from gankit.errors import GankitError
from gankit.metrics import api
from gankit.metrics.fid import load_stats


def _parser():
    p = argparse.ArgumentParser(prog="gankit")
    cli_eval.add_parsers(p.add_subparsers(dest="command"))
    return p


def _folder(path, n, seed, shift=0):
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    for i in range(n):
        arr = np.clip(rng.integers(0, 200, size=(8, 8, 3)) + shift, 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(path / f"{i:03d}.png")
    return path


@pytest.fixture
def patched(monkeypatch, fake_extractor):
    monkeypatch.setattr(cli_eval, "load_inception", lambda *a, **k: fake_extractor)
    return fake_extractor


def test_eval_folder_vs_folder_prints_table_and_json(tmp_path, patched, capsys):
    a, b = _folder(tmp_path / "a", 12, 0), _folder(tmp_path / "b", 12, 1, shift=40)
    out = tmp_path / "res.json"
    args = _parser().parse_args(["eval", str(a), "--ref", str(b), "--metrics", "fid,kid,pr", "--device", "cpu",
                                 "--json", str(out), "--cache-dir", str(tmp_path / "c"), "--kid-subset-size", "6",
                                 "--kid-subsets", "5"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    res = json.loads(out.read_text())
    for key, prefix in (("fid", "fid12,"), ("kid", "kid12,"), ("precision", "pr12,"), ("recall", "pr12,")):
        assert key in text and res[key]["protocol"].startswith(prefix)
        assert f"ref=folder:{b} (12)" in res[key]["protocol"]
    assert res["fid"]["protocol"].startswith("fid12, inception-2015-12-05 (TF port), resize=nv")
    assert res["fid"]["value"] > 1.0 and res["n_gen"] == 12
    assert res["kid"]["protocol"].count("5 subsets x 6")


def test_stats_then_eval_against_stats(tmp_path, patched, capsys):
    a = _folder(tmp_path / "a", 10, 0)
    st = tmp_path / "ref.npz"
    args = _parser().parse_args(["stats", str(a), "--out", str(st), "--device", "cpu", "--no-cache"])
    assert args.func(args) == 0
    mu, sigma, meta = load_stats(st)
    assert mu.shape == (48,) and sigma.shape == (48, 48) and meta["n"] == 10 and meta["resampler"] == "nv"
    args = _parser().parse_args(["eval", str(a), "--ref", str(st), "--device", "cpu", "--no-cache",
                                 "--json", str(tmp_path / "r.json")])
    assert args.func(args) == 0
    res = json.loads((tmp_path / "r.json").read_text())
    assert abs(res["fid"]["value"]) < 1e-6  # same images as the stats
    with pytest.raises(GankitError, match="only fid"):
        args = _parser().parse_args(["eval", str(a), "--ref", str(st), "--metrics", "kid", "--device", "cpu"])
        args.func(args)


def test_stats_made_with_other_resize_are_refused(tmp_path, patched):
    a = _folder(tmp_path / "a", 6, 0)
    st = tmp_path / "ref.npz"
    np.savez(st, mu=np.zeros(48), sigma=np.eye(48), resampler=np.asarray("clean"))
    args = _parser().parse_args(["eval", str(a), "--ref", str(st), "--device", "cpu", "--no-cache"])
    with pytest.raises(GankitError, match="resampler=clean"):
        args.func(args)


def test_bad_inputs_are_one_line_errors(tmp_path, patched):
    a = _folder(tmp_path / "a", 4, 0)
    for argv, pattern in [(["eval", str(tmp_path / "nope"), "--ref", str(a)], "no such file"),
                          (["eval", str(a), "--ref", str(a), "--metrics", "fid,ssim"], "unknown ssim"),
                          (["stats", str(a), "--out", str(tmp_path / "x.txt")], ".npz")]:
        args = _parser().parse_args(argv + ["--device", "cpu"])
        with pytest.raises(GankitError, match=pattern) as e:
            args.func(args)
        assert "\n" not in str(e.value)
    np.savez(tmp_path / "s.npz", mu=np.zeros(2), sigma=np.eye(2))
    args = _parser().parse_args(["eval", str(tmp_path / "s.npz"), "--ref", str(a), "--device", "cpu"])
    with pytest.raises(GankitError, match="only be the reference"):
        args.func(args)


def test_eval_run_dir_samples_generator(tmp_path, patched, monkeypatch, tiny_g):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    import gankit.pipelines as pipelines
    from gankit.metrics.sources import noise_sampler

    seen = {}

    class FakeRun:
        def sampler(self):
            return noise_sampler(tiny_g)

    def fake_load(path, device="cpu", ema=True):
        seen["path"] = path
        return FakeRun()

    monkeypatch.setattr(pipelines, "load_run", fake_load)
    ref = _folder(tmp_path / "ref", 8, 0)
    args = _parser().parse_args(["eval", str(run), "--ref", str(ref), "--n", "9", "--batch", "4", "--device", "cpu",
                                 "--no-cache"])
    assert args.func(args) == 0
    res = json.loads((run / "eval.json").read_text())
    assert res["n_gen"] == 9 and res["gen"] == f"run:{run}" and res["fid"]["protocol"].startswith("fid9,")
    assert seen["path"] == run


def test_fid_monitor_with_stats_and_source(tmp_path, fake_extractor, tiny_g):
    from gankit.metrics.sources import ArraySource, GeneratorSource, noise_sampler

    imgs = torch.cat(list(GeneratorSource(noise_sampler(tiny_g), n=20, batch=20, seed=0)))
    mon = api.FIDMonitor(ArraySource(imgs, name="self"), n_samples=20, batch=8, extractor=fake_extractor,
                         cache_dir=tmp_path)
    out = mon(noise_sampler(tiny_g))
    assert out["fid"] == pytest.approx(0.0, abs=1e-6)  # same seed, same samples as the reference
    assert out["protocol"] == "fid20, inception-2015-12-05 (TF port), resize=nv, ref=self (20)"
    torch.nn.init.constant_(tiny_g.fc.bias, 0.5)
    assert mon(noise_sampler(tiny_g))["fid"] > 0.1
