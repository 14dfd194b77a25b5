"""`gankit study norm` end to end on synthetic data with tiny budgets, plus its pieces."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gankit.cli.main import main
from gankit.errors import GankitError
from gankit.studies.norm import collapse_flags, epochs_to_steps, mean_pairwise_distance

TINY_STUDY = ["data.limit=8", "data.num_workers=0", "train.batch_size=4", "optim.n_critic=1", "train.device=cpu",
              "train.progress=false", "train.log_every=1", "model.z_dim=8", "model.generator.width=4",
              "model.discriminator.width=4", "train.seed=3"]


def test_epochs_to_steps_counts_critic_batches():
    # 100 images, batch 10, 5 critic batches per G step: 2 G steps per epoch
    assert epochs_to_steps(100, 10, 5, [5, 10, 20]) == [10, 20, 40]
    with pytest.raises(GankitError, match="further apart"):
        epochs_to_steps(10, 10, 5, [1, 1.2])


def test_mean_pairwise_distance_exact():
    f = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    # pairs: d01 = 5, d02 = 0, d12 = 5 -> mean over ordered pairs i != j = (5 + 0 + 5) * 2 / 6
    assert mean_pairwise_distance(f) == pytest.approx(10 / 3)
    assert mean_pairwise_distance(np.ones((5, 3))) == 0.0


def test_collapse_flags_rule():
    assert collapse_flags([10, 14, 9], [0.9, 0.7, 0.8]) == [False, True, False]  # FID +40% and rho -22%
    assert collapse_flags([10, 14], [0.9, 0.85]) == [False, False]  # FID rose but diversity held
    assert collapse_flags([10, 9], [0.9, 0.4]) == [False, True]  # absolute low diversity


def test_study_norm_end_to_end(tmp_path, capsys):
    out = tmp_path / "study"
    rc = main(["study", "norm", "--data", "synthetic", "--epochs", "0.5,1", "--feature-net", "random", "--n-samples", "12",
               "--n-ref", "8", "--kid-subsets", "4", "--grid", "4", "--out", str(out), "data.channels=3", *TINY_STUDY])
    assert rc == 0
    assert "NOT the standard" in capsys.readouterr().out
    rep = json.loads((out / "norm_study.json").read_text())
    assert list(rep["summary"]) == ["baseline", "sn", "adain", "sn+adain"]
    assert rep["steps"] == [1, 2]  # 8 images / (batch 4 * 1 critic step) = 2 G steps per epoch
    assert len(rep["runs"]) == 8 and all(np.isfinite(r["fid"]) and np.isfinite(r["kid"]) for r in rep["runs"])
    assert rep["feature_net"]["standard"] is False and "NOT the standard" in rep["protocol"]["fid"]
    md = (out / "norm_study.md").read_text()
    assert "WARNING" in md and "| sn+adain |" in md and "epoch 0.5" in md
    for fig in ("norm_study_samples.png", "norm_study_fid.png"):
        assert (out / fig).stat().st_size > 1000
    for v in ("baseline", "sn", "adain", "sn+adain"):  # one tagged checkpoint per requested epoch
        assert (out / "runs" / f"{v}-seed0" / "checkpoints" / "epoch_0.5").is_dir()
        assert (out / "runs" / f"{v}-seed0" / "checkpoints" / "epoch_1").is_dir()
    cfg = (out / "runs" / "sn-seed0" / "config.yaml").read_text()
    assert "spectral" in cfg and "adain" not in cfg


def test_study_norm_bad_data_is_one_line_error(tmp_path, capsys):
    rc = main(["study", "norm", "--data", str(tmp_path / "nope"), "--epochs", "1"])
    assert rc == 2
    assert "--data" in capsys.readouterr().err


def test_variants_build_the_intended_networks():
    """baseline/sn/adain/both differ exactly in G's norm (batch|adain) and D's (layer|spectral)."""
    from gankit.config import load_config
    from gankit.models import DISCRIMINATORS, GENERATORS, build_net
    from gankit.nn.layers import AdaIN
    from gankit.studies.norm import VARIANTS, variant_config

    base = load_config("norm_study")
    assert base.loss.adversarial == "wgan" and base.loss.gp_weight > 0
    for v in VARIANTS:
        c = variant_config(base, v, 0, 10)
        shape = {"resolution": 32, "channels": 1, "n_classes": 0}
        g = build_net(GENERATORS, "model.generator", c.model.generator, z_dim=c.model.z_dim, **shape)
        d = build_net(DISCRIMINATORS, "model.discriminator", c.model.discriminator, **shape)
        has_adain = any(isinstance(m, AdaIN) for m in g.modules())
        has_sn = any(hasattr(m, "parametrizations") for m in d.modules())
        assert has_adain == ("adain" in v) and has_sn == ("sn" in v), v
        assert c.train.steps == 10 and c.loss.gp_weight == base.loss.gp_weight  # the GP stays on with SN


def test_study_norm_split_over_calls_reuses_finished_runs(tmp_path, capsys):
    """Variants run in separate calls into one --out; the last call with all variants trains
    nothing and assembles the same numbers. A changed budget retrains."""
    out = tmp_path / "study"
    common = ["study", "norm", "--data", "synthetic", "--epochs", "1", "--feature-net", "random", "--n-samples", "12",
              "--n-ref", "8", "--kid-subsets", "4", "--grid", "4", "--out", str(out), "data.channels=3", *TINY_STUDY]
    assert main([*common, "--variants", "baseline,sn"]) == 0
    first = json.loads((out / "norm_study.json").read_text())
    assert list(first["summary"]) == ["baseline", "sn"]
    ck = out / "runs" / "sn-seed0" / "study_result.json"
    stamp = ck.stat().st_mtime_ns
    assert main([*common, "--variants", "adain,sn+adain"]) == 0
    capsys.readouterr()
    assert main(common) == 0
    printed = capsys.readouterr().out
    assert printed.count("reusing finished run") == 4
    rep = json.loads((out / "norm_study.json").read_text())
    assert list(rep["summary"]) == ["baseline", "sn", "adain", "sn+adain"]
    assert ck.stat().st_mtime_ns == stamp
    same = [r for r in rep["runs"] if r["variant"] in ("baseline", "sn")]
    assert [r["fid"] for r in same] == [r["fid"] for r in first["runs"]]
    assert (out / "norm_study_samples.png").stat().st_size > 1000
    # operational settings (logging, workers) do not count; a variant named twice runs once
    capsys.readouterr()
    assert main([*common, "train.log_every=2", "--variants", "sn,sn"]) == 0
    assert capsys.readouterr().out.count("reusing finished run") == 1
    assert len(json.loads((out / "norm_study.json").read_text())["runs"]) == 1
    # a different budget or evaluation must not reuse the saved result, nor overwrite it
    for change in (["train.batch_size=2"], ["--n-ref", "6"], ["--kid-subsets", "3"], ["--grid", "2"]):
        assert main([*common, *change, "--variants", "sn"]) == 2
        assert "other settings" in capsys.readouterr().err and ck.stat().st_mtime_ns == stamp


def test_study_norm_retrains_a_run_killed_midway(tmp_path, capsys):
    out = tmp_path / "study"
    args = ["study", "norm", "--data", "synthetic", "--epochs", "1", "--feature-net", "random", "--n-samples", "12",
            "--n-ref", "8", "--kid-subsets", "4", "--grid", "4", "--out", str(out), "--variants", "sn",
            "data.channels=3", *TINY_STUDY]
    assert main(args) == 0
    first = json.loads((out / "norm_study.json").read_text())["runs"]
    (out / "runs" / "sn-seed0" / "study_result.json").unlink()  # as if killed before finishing
    capsys.readouterr()
    assert main(args) == 0  # same settings: continues from the run's last checkpoint
    assert "continuing" in capsys.readouterr().out
    assert json.loads((out / "norm_study.json").read_text())["runs"] == first  # evaluated epochs kept
    (out / "runs" / "sn-seed0" / "study_result.json").unlink()
    (out / "runs" / "sn-seed0" / "study_key.json").unlink()  # settings unknown: retrain, keep the old folder
    assert main(args) == 0
    assert "not finished" in capsys.readouterr().out
    assert (out / "runs" / "sn-seed0.incomplete-1" / "checkpoints").is_dir()  # kept, not deleted
    assert (out / "runs" / "sn-seed0" / "study_result.json").is_file()
    # a damaged saved file is a one-line error naming it, not a traceback
    (out / "runs" / "sn-seed0" / "study_grids.safetensors").write_bytes(b"not safetensors")
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "study_grids.safetensors: unreadable saved study run" in err and "Traceback" not in err


def test_study_norm_unknown_variant_is_one_line_error(tmp_path, capsys):
    rc = main(["study", "norm", "--data", "synthetic", "--epochs", "1", "--feature-net", "random",
               "--out", str(tmp_path / "s"), "--variants", "sn,bogus", *TINY_STUDY])
    assert rc == 2
    assert "bogus" in capsys.readouterr().err


def test_data_key_tells_datasets_apart_not_paths():
    import torch

    from gankit.studies.norm import data_key

    a = [(torch.full((1, 4, 4), i, dtype=torch.uint8), 0) for i in range(20)]
    b = [(torch.full((1, 4, 4), i + 1, dtype=torch.uint8), 0) for i in range(20)]
    assert data_key(a) == data_key(list(a)) and data_key(a) != data_key(b) and data_key(a) != data_key(a[:19])

