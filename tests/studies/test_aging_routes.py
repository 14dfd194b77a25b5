"""Seed 003's three routes (benchmarks/aging_routes.py) on a fake emoji-styles folder: the split
keeps test identities out of training, and one tiny end-to-end run scores every route."""

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image


def fake_styles(root: Path, styles=("s1", "s2")) -> Path:
    """ages.csv over every (age, gender, tone) with plain images; colour encodes the age."""
    rng = np.random.default_rng(0)
    rows = []
    for age, shade in (("adult", 120), ("child", 220), ("older", 40)):
        for g in ("female", "male", "neutral"):
            for t in range(6):
                key = f"{age}-{g}-{t}"
                rows.append({"key": key, "age": age, "gender": g, "tone": t, "plain": 1, "split": "train"})
                for s in styles:
                    (root / s).mkdir(parents=True, exist_ok=True)
                    img = np.full((64, 64, 3), shade, np.uint8)
                    img[16:48, 16:48] = 30 * t + rng.integers(0, 20)
                    Image.fromarray(img).save(root / s / f"{key}.png")
    with open(root / "ages.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (root / "summary.json").write_text(json.dumps({"styles": list(styles)}))
    return root


def test_split_keeps_test_identities_out_of_training(tmp_path, benchmark_module):
    mod = benchmark_module("aging_routes")
    info = mod.build_data(fake_styles(tmp_path / "src"), tmp_path / "out")
    assert len(info["subjects"]) == 12 and len(info["pairs"]) == 24  # 6 test / 12 train identities x 2 styles
    test_ids = {(s["gender"], s["tone"]) for s in info["subjects"]}
    assert {t for _, t in test_ids} == set(range(6)) and {g for g, _ in test_ids} == {"female", "male", "neutral"}
    train_files = [p.name for p in (tmp_path / "out" / "data" / "train").rglob("*.png")]
    assert len(train_files) == 12 * 3 * 2
    for g, t in test_ids:
        assert not [f for f in train_files if f.endswith(f"-{g}-{t}.png")]
    for s in info["subjects"]:  # the truth is the same identity and style, one age younger
        assert s["input"].replace("older", "child") == s["truth"]


def test_tiny_end_to_end(tmp_path, benchmark_module):
    mod = benchmark_module("aging_routes")
    src = fake_styles(tmp_path / "src")
    out = tmp_path / "out"
    assert mod.main(["--data", str(src), "--out", str(out), "--steps", "2", "--tiny", "--fit-steps", "2",
                     "--encoder-steps", "2", "--judge-steps", "5", "--jobs", "3"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert set(s["rows"]) == {"do nothing", "CycleGAN", "acGAN", "style + direction", "truth (the real child)"}
    truth, nothing = s["rows"]["truth (the real child)"], s["rows"]["do nothing"]
    assert truth["l1"] == 0.0 and truth["ssim"] > 0.99  # the scorer compares against the real child
    assert nothing["l1"] > 0.1  # older and child differ (the fake data's background shade)
    assert s["extra"]["style + direction"]["pairs"] == 24 and set(s["judge"]["test_accuracy"]) == {"adult", "child", "older"}
    with Image.open(out / "routes.png") as im:  # rows: input, 3 routes, truth; 12 columns of 32² + 2 px; x3
        assert im.size == ((12 * 34 + 2) * 3, (5 * 34 + 2) * 3)
