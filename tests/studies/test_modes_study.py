"""`gankit study modes` end to end on tiny settings: tables, figure, reuse, resume after an
interruption, skipped methods, stacked Fashion-MNIST on stand-in data, CLI errors."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

from gankit.studies import modes_eval
from gankit.studies.modes import METHODS, eval_steps

TINY = ["train.batch_size=32", "model.z_dim=8", "model.generator.width=16", "model.discriminator.width=16",
        "train.progress=false", "train.device=cpu", "train.log_every=5"]
ARGS = ["study", "modes", "--benchmark", "ring8", "--methods", "gan,sn_hinge", "--seeds", "2", "--steps", "8",
        "--evals", "2", "--n-eval", "300"]


def _runs(out, bench="ring8"):
    return json.loads((out / f"modes_{bench}.json").read_text())["runs"]


def test_eval_steps_are_even_and_end_at_the_last_step():
    assert eval_steps(2000, 5) == [400, 800, 1200, 1600, 2000]
    assert eval_steps(3, 3) == [1, 2, 3]


def test_ring8_study_end_to_end_and_reuse(tmp_path, cli, one_thread):
    out = tmp_path / "s"
    rc, stdout, err = cli(*ARGS, "--out", out, *TINY)
    assert rc == 0, err
    rep = json.loads((out / "modes_ring8.json").read_text())
    assert list(rep["summary"]) == ["gan", "sn_hinge"] and rep["eval_steps"] == [4, 8]
    assert len(rep["runs"]) == 2 * 2 * 2 and {r["seed"] for r in rep["runs"]} == {0, 1}
    for r in rep["runs"]:
        assert 0 <= r["modes"] <= 8 and 0 <= r["hq"] <= 1 and len(r["counts"]) == 8
        assert r["modes"] == sum(c > 0 for c in r["counts"]) and r["hq"] == pytest.approx(sum(r["counts"]) / 300)
    real, noise = rep["protocol"]["calibration"]
    assert real["modes"] == 8 and real["hq"] > 0.97  # real data: all modes, ~98.9 % high quality
    assert noise["true_modes"] is None and noise["hq"] < 0.02  # uniform noise on [-3, 3]^2: ~0.25 %
    sn_cfg = (out / "runs" / "sn_hinge-seed1" / "config.yaml").read_text()
    assert "norm: spectral" in sn_cfg and "adversarial: hinge" in sn_cfg and "seed: 1" in sn_cfg
    md = (out / "modes_ring8.md").read_text()
    assert "| sn_hinge |" in md and "## Calibration" in md and "real mixture (8 modes) | 8 | 8 / 8" in md
    assert (out / "modes_ring8_scatter.png").stat().st_size > 5000
    assert "modes study [4/4] sn_hinge seed 1: step 8: modes" in stdout
    # the same command again reuses every finished run and gives the same numbers
    rc, again, _ = cli(*ARGS, "--out", out, *TINY)
    assert rc == 0 and again.count("reusing finished run") == 4 and _runs(out) == rep["runs"]


def test_interrupted_study_continues_to_the_same_numbers(tmp_path, cli, one_thread, monkeypatch):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    args = [*ARGS[:5], "gan", *ARGS[6:]]
    assert cli(*args, "--out", whole, *TINY)[0] == 0
    real_call = modes_eval.PointEval.__call__
    calls = []

    def stop_after_first_eval(self, recipe):
        calls.append(1)
        if len(calls) == 1:  # like Ctrl-C right after the first evaluation of the first run
            os.kill(os.getpid(), signal.SIGINT)
        return real_call(self, recipe)

    monkeypatch.setattr(modes_eval.PointEval, "__call__", stop_after_first_eval)
    rc, _, err = cli(*args, "--out", cut, *TINY)
    assert rc == 130 and "continue with: gankit study modes" in err
    assert not (cut / "runs" / "gan-seed0" / "study_result.json").exists()
    rc, stdout, err = cli(*args, "--out", cut, *TINY)
    assert rc == 0, err
    assert "continuing" in stdout and _runs(cut) == _runs(whole)


def test_methods_not_registered_yet_are_skipped(tmp_path, cli, one_thread, monkeypatch):
    monkeypatch.setitem(METHODS, "future", {"recipe.name": "not_written_yet"})
    rc, stdout, err = cli(*ARGS[:5], "gan,future", "--seeds", "1", "--steps", "2", "--evals", "1", "--n-eval", "50",
                          "--out", tmp_path, *TINY)
    assert rc == 0, err
    assert "skipping method 'future': recipe 'not_written_yet' is not registered" in stdout
    rep = json.loads((tmp_path / "modes_ring8.json").read_text())
    assert list(rep["summary"]) == ["gan"] and "future" in rep["skipped"]
    assert "skipped **future**" in (tmp_path / "modes_ring8.md").read_text()


def test_stacked_study_on_standin_fashion(tmp_path, cli, one_thread, monkeypatch):
    from gankit.data.synthetic import write_fashion_idx

    monkeypatch.setenv("GANKIT_FASHION_MNIST", str(write_fashion_idx(tmp_path / "fm", n=32, n_test=30)))
    out = tmp_path / "st"
    args = ["study", "modes", "--benchmark", "stacked", "--methods", "gan", "--seeds", "1", "--steps", "2", "--evals",
            "1", "--n-eval", "60", "--classifier-steps", "20", "--out", out, "train.batch_size=8", "model.z_dim=8",
            "model.generator.width=8", "model.discriminator.width=8", "train.progress=false", "train.device=cpu"]
    rc, stdout, err = cli(*args)
    assert rc == 0, err
    rep = json.loads((out / "modes_stacked.json").read_text())
    clf = rep["protocol"]["classifier"]
    assert clf["test_accuracy"] > 0.3 and len(clf["per_class"]) == 10  # chance: 0.1
    cal = {c["data"]: c for c in rep["protocol"]["calibration"]}
    assert cal["real, only 10 label triples"]["modes"] <= 10 and cal["real, only 10 label triples"]["true_modes"] == 10
    run = rep["runs"][0]
    assert 1 <= run["modes"] <= 60 and run["kl"] >= 0
    assert (out / "classifier" / "classifier.safetensors").is_file() and (out / "modes_stacked_samples.png").is_file()
    assert "channel classifier: test accuracy" in (out / "modes_stacked.md").read_text()
    assert "calibrating the counter" in stdout
    rc, stdout, _ = cli(*args)  # the cached classifier, its calibration and the finished run are reused
    assert rc == 0 and "reusing the Fashion-MNIST classifier" in stdout and "reusing finished run" in stdout
    assert "calibrating" not in stdout and json.loads((out / "modes_stacked.json").read_text())["protocol"] == rep["protocol"]


@pytest.mark.parametrize("bad, msg", [
    (["--seeds", "0"], "--seeds 0: expected an integer >= 1"),
    (["--steps", "0"], "--steps 0: expected an integer >= 1"),
    (["--methods", "gan,nope"], "--methods nope: expected some of"),
    (["--steps", "3", "--evals", "5"], "--evals 5: more evaluations than --steps 3"),
    (["--max-time", "soon"], "--max-time='soon': expected a duration"),
    (["data.channels=1"], "data.channels=1, data.resolution=1: the 'ring8' dataset is 2-D points"),
])
def test_cli_errors_are_one_line(tmp_path, cli, bad, msg):
    rc, _, err = cli("study", "modes", "--benchmark", "ring8", "--out", tmp_path, *bad)
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1


def test_unknown_benchmark_is_refused(cli):
    rc, _, err = cli("study", "modes", "--benchmark", "ring9")
    assert rc == 2 and "--benchmark ring9: expected one of ring8, grid25, stacked" in err


def test_point_runs_write_scatter_sample_pngs(tmp_path, cli, one_thread):
    rc, _, err = cli("train", "gan_ring8", "--out", tmp_path, "train.steps=4", "train.sample_every=2", *TINY)
    assert rc == 0, err
    from PIL import Image

    img = Image.open(tmp_path / "samples" / "step_000000002.png").convert("L")
    assert img.size == (400, 400)  # a scatter plot, not a grid of 1x1 "images"
    assert torch.tensor(__import__("numpy").asarray(img)).float().std() > 5
