"""End to end: train StarGAN / ACL-GAN presets on a tiny emoji-layout set, resume, preview grid,
translate (single image and grid), classifier train, score, sweep."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from gankit.cli.main import main

ATTRS = ["Tone_1", "Tone_3", "Tone_5", "Male", "Female"]
TINY = ["model.generator.width=8", "model.generator.n_res=1", "model.discriminator.width=8",
        "data.resolution=16", "model.discriminator.n_layers=3", "data.num_workers=0", "data.hflip=false", "train.batch_size=4", "train.device=cpu",
        "train.progress=false", "train.log_every=1", "train.sample_every=1", "train.ckpt_every=1", "optim.n_critic=1"]


def make_layout(root: Path) -> Path:
    """An emoji-layout folder (attributes.csv, counterfactuals.csv, images/) of 24 drawn faces:
    tone = face colour, Male = a dark 'beard' band, Female = long side hair. No font needed."""
    (root / "images").mkdir(parents=True)
    tones = [(255, 220, 80), (250, 225, 200), (200, 150, 110), (90, 60, 40)]  # default, 1, 3, 5
    rows = []
    for gender in ("neutral", "male", "female"):
        for t, col in enumerate(tones):
            for variant in (0, 1):
                name = f"images/{gender}_{t}_{variant}.png"
                img = Image.new("RGB", (32, 32), (176, 196, 222))
                img.paste(col, (8, 6, 24, 26))
                if gender == "male":
                    img.paste((40, 30, 20), (8, 20, 24, 26))
                if gender == "female":
                    img.paste((120, 70, 30), (4, 4, 8, 30))
                    img.paste((120, 70, 30), (24, 4, 28, 30))
                if variant:
                    img.paste((0, 0, 0), (12, 12, 20, 14))
                img.save(root / name)
                split = "test" if variant else "train"
                a = [int(t == 1), int(t == 2), int(t == 3), int(gender == "male"), int(gender == "female")]
                rows.append((name, split, gender, t, variant, a))
    with open(root / "attributes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "split", *ATTRS])
        w.writerows([[n, s, *a] for n, s, _, _, _, a in rows])
    with open(root / "counterfactuals.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["src", "dst", "split", "factor", "from", "to", "changed"])
        for i, (n1, s1, g1, t1, v1, _) in enumerate(rows):
            for n2, s2, g2, t2, v2, _ in rows[i + 1:]:
                if v1 == v2 and (g1 == g2) != (t1 == t2):
                    w.writerow([n1, n2, s1, "tone" if g1 == g2 else "gender", "", "", ""])
    return root


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    return make_layout(tmp_path_factory.mktemp("emoji") / "emoji32")


@pytest.fixture(scope="module")
def runs(layout, tmp_path_factory):
    """Both presets trained 2 steps, then resumed to 3."""
    out = {}
    for preset in ("stargan_emoji", "aclgan_emoji"):
        run = tmp_path_factory.mktemp(preset) / "run"
        args = ["train", preset, "--out", str(run), "--steps", "2", f"data.path={layout}", *TINY]
        assert main(args) == 0
        if preset == "aclgan_emoji":  # resume once (the trainer's bit-exact resume is tested elsewhere)
            assert main(["train", preset, "--out", str(run), "--steps", "3", "--resume", f"data.path={layout}", *TINY]) == 0
        out[preset] = run
    return out


def test_train_resume_and_preview_grid(runs):
    for preset, run in runs.items():
        last = 3 if preset == "aclgan_emoji" else 2
        assert (run / "checkpoints" / f"step_{last:09d}").is_dir()
        steps = [json.loads(line).get("step") for line in (run / "metrics.jsonl").read_text().splitlines()]
        assert last in steps
        grid = Image.open(run / "samples" / "latest.png")
        k = 5 + 1 + (2 if preset == "aclgan_emoji" else 0)  # original, 5 flips, (mask, segment)
        assert grid.size[0] == k * 18 + 2  # torchvision grid: 2 px padding
        assert (run / "samples" / f"step_{last:09d}.png").is_file()


def test_translate_single_image_and_grid(runs, layout, tmp_path, capsys):
    run = runs["aclgan_emoji"]
    out = tmp_path / "edit.png"
    src = layout / "images" / "neutral_0_1.png"
    assert main(["translate", str(run), "--image", str(src), "--set", "Male=1", "--set", "Tone_5=1",
                 "--out", str(out), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "source (table): Tone_1=0 Tone_3=0 Tone_5=0 Male=0 Female=0" in text
    assert "target: Tone_1=0 Tone_3=0 Tone_5=1 Male=1 Female=0" in text
    assert Image.open(out).size == (16, 16)
    grid = tmp_path / "grid.png"
    assert main(["translate", str(run), "--grid", "--images", str(layout / "images"), "--out", str(grid),
                 "--device", "cpu"]) == 0
    assert Image.open(grid).size == (8 * 18 + 2, 24 * 18 + 2)
    assert main(["translate", str(run), "--image", str(src), "--set", "Mael=1", "--out", str(out)]) == 2
    assert "did you mean 'Male'" in capsys.readouterr().err


def test_classifier_train_and_score(runs, layout, tmp_path, capsys):
    cls = tmp_path / "cls"
    assert main(["classifier", "train", "--data", "emoji", "--root", str(layout), "--resolution", "16",
                 "--attrs", ",".join(ATTRS), "--steps", "5", "--batch", "8", "--width", "8", "--out", str(cls),
                 "--device", "cpu"]) == 0
    assert (cls / "classifier.safetensors").is_file()
    meta = json.loads((cls / "classifier.json").read_text())
    assert meta["test"]["n"] == 12 and meta["attr_names"] == ATTRS
    capsys.readouterr()
    assert main(["score", str(runs["stargan_emoji"]), "--classifier", str(cls), "--root", str(layout),
                 "--device", "cpu", "--json", str(tmp_path / "s.json")]) == 0
    text = capsys.readouterr().out
    assert "target attribute accuracy" in text and "counterfactual L1" in text
    rep = json.loads(text.strip().splitlines()[-1])
    assert rep["n_images"] == 12 and rep["n_edits"] == 60 and rep["counterfactual"]["pairs"] > 0
    assert 0 <= rep["attr_accuracy"] <= 1 and rep["score"] == pytest.approx(rep["attr_accuracy"] - rep["counterfactual"]["l1"])
    assert json.loads((tmp_path / "s.json").read_text())["l1"] == rep["l1"]


def test_sweep_two_trials_sqlite(layout, tmp_path, capsys):
    pytest.importorskip("optuna", reason="optuna not installed (pip install 'optuna>=3.4')")
    out = tmp_path / "sweep"
    assert main(["sweep", "aclgan", "--trials", "2", "--steps", "1", "--root", str(layout), "--out", str(out),
                 "--device", "cpu", "--n-score", "4", *[o for o in TINY if "every" not in o]]) == 0
    rep = json.loads((out / "sweep.json").read_text())
    assert len(rep["trials"]) == 2 and (out / "sweep.db").is_file()
    assert set(rep["trials"][0]["params"]) == {"lambda_content"}
    assert rep["trials"][1]["best_so_far"] == max(t["score"] for t in rep["trials"])
    assert all(t["seconds"] > 0 for t in rep["trials"])  # per-trial wall time, for best-vs-time curves
    assert "best score" in capsys.readouterr().out
    # --trials is the total: the same command again runs nothing; a larger number continues the
    # same study with new draws, not a replay of the first ones.
    args = ["sweep", "aclgan", "--steps", "1", "--root", str(layout), "--out", str(out), "--device", "cpu",
            "--n-score", "4", *[o for o in TINY if "every" not in o]]
    assert main([*args, "--trials", "2"]) == 0
    assert "nothing to run" in capsys.readouterr().out
    assert main([*args, "--trials", "4"]) == 0
    lams = [t["params"]["lambda_content"] for t in json.loads((out / "sweep.json").read_text())["trials"]]
    assert len(lams) == 4 and len(set(lams)) == 4
    # a trial left RUNNING by a killed process is marked failed and its parameters retried once
    import optuna

    study = optuna.load_study(study_name="aclgan-steps1", storage=f"sqlite:///{(out / 'sweep.db').resolve()}")
    stale = study.ask({"lambda_content": optuna.distributions.FloatDistribution(0.1, 100.0, log=True)})
    assert main([*args, "--trials", "5"]) == 0
    assert "retrying 1 interrupted trial" in capsys.readouterr().out
    rows = json.loads((out / "sweep.json").read_text())["trials"]
    assert [r["state"] for r in rows].count("complete") == 5
    assert rows[stale.number]["state"] == "fail" and rows[-1]["params"] == rows[stale.number]["params"]
    assert rows[-1]["retry_of"] == stale.number
    # a sweep whose --max-time runs out stops with the continue command; the trial is retried
    assert main([*args, "--trials", "6", "--max-time", "0.000001"]) == 124
    assert "continue with: gankit sweep aclgan" in capsys.readouterr().err
    stopped = json.loads((out / "sweep.json").read_text())["trials"]  # a stopped sweep keeps its table
    assert len(stopped) == len(rows) + 1 and stopped[-1]["interrupted"] and stopped[-1]["score"] is None
    assert main([*args, "--trials", "6"]) == 0
    assert "retrying 1 interrupted trial" in capsys.readouterr().out
    rows = json.loads((out / "sweep.json").read_text())["trials"]
    assert [r["state"] for r in rows].count("complete") == 6 and rows[-2].get("interrupted")


def test_sweep_trial_time_ends_each_trial_by_its_wall_time(layout, tmp_path, capsys):
    pytest.importorskip("optuna", reason="optuna not installed (pip install 'optuna>=3.4')")
    out = tmp_path / "sweep"
    args = ["sweep", "aclgan", "--steps", "100000", "--root", str(layout), "--out", str(out), "--device", "cpu",
            "--n-score", "4", *[o for o in TINY if "every" not in o]]
    assert main([*args, "--trials", "1", "--trial-time", "1.5s"]) == 0  # the trial's time is its normal end
    rep = json.loads((out / "sweep.json").read_text())
    assert rep["trial_time_s"] == 1.5 and rep["study"] == "aclgan-steps100000-t1.5s"
    assert [t["state"] for t in rep["trials"]] == ["complete"] and rep["trials"][0]["score"] is not None
    events = [json.loads(line) for f in (out / "trials").glob("p-*/metrics.jsonl") for line in f.read_text().splitlines()]
    stops = [e for e in events if e.get("stopped") == "max_time"]
    assert len(stops) == 1 and 0 < stops[0]["step"] < 100000 and stops[0]["elapsed"] <= 1.5
    # another trial time is another study, never mixed into this one
    assert main([*args, "--trials", "1", "--trial-time", "1s"]) == 0
    assert json.loads((out / "sweep.json").read_text())["study"] == "aclgan-steps100000-t1s"
    # a trial cut by the sweep's --max-time is retried with only the trial time it had left
    out2 = tmp_path / "sweep2"
    args2 = [a if a != str(out) else str(out2) for a in args]
    assert main([*args2, "--trials", "1", "--trial-time", "5s", "--max-time", "2.5s"]) == 124
    assert main([*args2, "--trials", "1", "--trial-time", "5s"]) == 0
    events = [json.loads(line) for f in (out2 / "trials").glob("p-*/metrics.jsonl") for line in f.read_text().splitlines()]
    first, second = [e["elapsed"] for e in events if e.get("stopped") == "max_time"]
    assert 1.0 < first <= 2.5 and second <= 5.0 - first + 0.3
    capsys.readouterr()
    for bad in ("abc", "0"):
        assert main([*args, "--trial-time", bad]) == 2
        assert "--trial-time" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf").is_file(),
                    reason="fonts-noto-color-emoji absent: apt-get install -y fonts-noto-color-emoji")
def test_real_emoji_build_trains_and_scores(tmp_path, capsys):
    from gankit.data.emoji import build_emoji_dataset

    root = tmp_path / "emoji"
    build_emoji_dataset(root, size=32, groups=["police officer", "facepalming"], progress=False)
    run = tmp_path / "run"
    assert main(["train", "aclgan_emoji", "--out", str(run), "--steps", "1", f"data.path={root}", *TINY]) == 0
    assert (run / "samples" / "latest.png").is_file()
    capsys.readouterr()
    assert main(["score", str(run), "--device", "cpu"]) == 0  # root and attributes come from the run
    rep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rep["root"] == str(root) and rep["counterfactual"]["pairs"] > 0 and "score" in rep


class _PooledRGB:
    """A cheap deterministic stand-in for the Inception network (NOT the standard FID)."""

    sha1, resampler = "test-pooled-rgb", "nv"

    def __call__(self, images):
        import torch

        return torch.nn.functional.adaptive_avg_pool2d(images.float() / 255.0, 4).flatten(1)


def test_sample_writes_an_edit_grid_of_held_out_images(runs, tmp_path, capsys):
    from PIL import Image

    for preset, run in runs.items():
        out = tmp_path / f"{preset}.png"
        assert main(["sample", str(run), "--n", "3", "--out", str(out), "--device", "cpu"]) == 0
        assert "edit grid of 3 held-out images x" in capsys.readouterr().out
        w, h = Image.open(out).size
        cols = 6 + (2 if preset == "aclgan_emoji" else 0)  # original + 5 flips (+ mask, segment)
        assert (w, h) == (cols * 18 + 2, 3 * 18 + 2)  # 16 px + 2 px padding per cell
        assert main(["sample", str(run), "--n", "3", "--class", "1", "--out", str(out)]) == 2
        assert "no classes" in capsys.readouterr().err


def test_eval_and_periodic_fid_on_an_editor(runs, layout, tmp_path, monkeypatch):
    """eval and train.fid_every on StarGAN/ACL-GAN runs score edits of real inputs (no z_dim)."""
    import json

    import gankit.cli.eval as cli_eval
    from gankit.config import load_config
    from gankit.train.trainer import Trainer

    monkeypatch.setattr(cli_eval, "load_inception", lambda *a, **k: _PooledRGB())
    run = runs["stargan_emoji"]
    assert main(["eval", str(run), "--ref", str(layout / "images"), "--n", "8", "--batch", "4", "--device", "cpu",
                 "--no-cache"]) == 0
    res = json.loads((run / "eval.json").read_text())
    assert res["n_gen"] == 8 and res["fid"]["value"] >= 0
    cfg = load_config("aclgan_emoji", [f"data.path={layout}", *TINY, "train.steps=2", "train.fid_every=1",
                                       "train.fid_samples=8"])
    tr = Trainer(cfg, tmp_path / "fid")
    tr.fid_extractor = _PooledRGB()
    tr.fit()
    fids = [json.loads(x) for x in (tmp_path / "fid" / "metrics.jsonl").read_text().splitlines() if '"fid"' in x]
    assert [f["step"] for f in fids] == [1, 2] and "training data" in fids[0]["fid_protocol"]
    assert (tmp_path / "fid" / "checkpoints" / "best").is_dir()
