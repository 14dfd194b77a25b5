"""Seed 003's three routes to a younger face, compared on ground truth (issue 12).

Seed 003 tried to turn an old dog into a puppy three ways: CycleGAN between an older and a
young domain ("changes the global mood, not the shape"), a conditional age GAN with an encoder
and identity-preserving latent optimisation (acGAN, Antipov et al. 2017: "poor quality"), and
latent editing of a style generator with an exemplar age direction (the best). Its ranking was
by eye. Here the same three routes run on emoji people, where every older emoji has a true
younger counterpart (same gender, skin tone and artist), so the edits can be scored:

    gankit data emoji-styles --styles noto,twemoji --size 64 --out data/emoji_styles64
    python benchmarks/aging_routes.py --data data/emoji_styles64 --out runs/aging_routes --time 8m --seed 0

Task: **older → child** (old man → boy, old woman → girl, older person → child). Identities
(gender × skin tone, 18) are split so that each tone and each gender is in both halves: the
six test identities are (female, tone 0), (male, 1), (neutral, 2), (female, 3), (male, 4),
(neutral, 5); no image of a test identity (any age) is used in training. The styles are pooled
(the age groups are small: 18 older emoji per style), so the test set is 6 identities × the
styles = 12 subjects for two styles.

Routes, each trained for the same wall time (``train.max_time``) on the training identities'
adult, child and older images, at 32² on the CPU (``--jobs`` at a time, one thread each):

* **CycleGAN** (``cyclegan_emoji`` shrunk: ResNet G width 16, PatchGAN width 32, 2 layers):
  domains ``older`` ↔ ``child`` through ``data.name=unpaired_folders``; edit = G_older→child(x).
* **acGAN** (``cgan_fashion`` on the three age classes: DCGAN G with a label embedding,
  projection D, hinge): an encoder trained on G's samples gives z0 = E(x), z is fitted so that
  G(z, older) reconstructs x (pixel multi-scale L1; the paper's face-recognition distance has no
  emoji counterpart), edit = G(z*, child) (``gankit.editing.cond_projection``).
* **Style + exemplar direction** (``style_emoji64`` shrunk as in the pet-aging run): the
  training identities' older and child images are projected into W (pixel loss), the direction
  is mean(w_older) − mean(w_child), and the projected subject is moved by α = −1 (the full
  mean difference), as in ``gankit direction`` / ``gankit edit``.
* **do nothing**: the older input itself.

Scores on the 12 subjects against the true child: L1 and SSIM; the judge's age verdict (child
among child/adult/older) and identity kept (the judge's gender and skin tone of the edit equal
the subject's). The judge is a gankit attribute classifier trained on the training identities
only; its accuracy on the real test-identity images is reported next to it. Writes OUT/{data/,
cyclegan/, acgan/, style/, judge/, summary.json, routes.png (rows: input, routes, truth)}.
Rerunning reuses finished runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.config import parse_duration  # noqa: E402
from gankit.errors import GankitError  # noqa: E402

GENDERS = ("female", "male", "neutral")
AGES = ("adult", "child", "older")  # the folder names; sorted, so they are also the cGAN's labels
TONES = tuple(range(6))
ATTRS = [a.capitalize() for a in AGES] + [g.capitalize() for g in GENDERS] + [f"Tone_{t}" for t in TONES]
TEST_IDS = {(GENDERS[t % 3], t) for t in TONES}
ROUTES = ("cyclegan", "acgan", "style")

SHRINK = {
    "cyclegan": ("cyclegan_emoji", ["data.name=unpaired_folders", "data.domains=[older,child]",
                                    "model.generator.width=16", "model.discriminator.width=32",
                                    "model.discriminator.n_layers=2", "optim.lr_decay_start=100000000"]),
    "acgan": ("cgan_fashion", ["data.name=folder", "data.labels=true", "data.channels=3", "data.hflip=true",
                               "model.generator.width=32", "model.discriminator.width=32", "train.batch_size=32"]),
    "style": ("style_emoji64", ["data.name=folder", "model.generator.width=16", "model.generator.max_channels=128",
                                "model.generator.w_dim=128", "model.generator.mapping_layers=4",
                                "model.discriminator.width=16", "model.discriminator.max_channels=128",
                                "train.batch_size=16", "train.ema=0.99"]),
}
TINY = {  # the smoke test's networks
    "cyclegan": ["model.generator.width=4", "model.generator.n_blocks=1", "model.discriminator.width=4"],
    "acgan": ["model.generator.width=4", "model.discriminator.width=4", "train.batch_size=4"],
    "style": ["model.generator.width=4", "model.generator.max_channels=8", "model.generator.w_dim=8",
              "model.generator.mapping_layers=1", "model.discriminator.width=4", "model.discriminator.max_channels=8",
              "train.batch_size=4", "model.z_dim=8"],
}


def read_ages(root: Path) -> tuple[list[dict], list[str]]:
    """(rows of ages.csv without babies, the styles drawn) of an emoji-styles folder."""
    path = root / "ages.csv"
    if not path.is_file():
        raise GankitError(f"{path}: missing; build the folder with 'gankit data emoji-styles --styles noto,twemoji "
                          f"--size 64 --out {root}'")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["age"] in AGES]
    styles = [s for s in json.loads((root / "summary.json").read_text())["styles"] if (root / s).is_dir()]
    if not rows or not styles:
        raise GankitError(f"{root}: no age rows or no style folders")
    return rows, styles


def build_data(root: Path, out: Path) -> dict:
    """OUT/data/{train,test}/{adult,child,older}/<style>-<key>.png, judge.csv and the test
    subjects (older of a test identity) with their true child."""
    rows, styles = read_ages(root)
    data = out / "data"
    judge_rows, files = [], {}
    for r in rows:
        ident = (r["gender"], int(r["tone"]))
        split = "test" if ident in TEST_IDS else "train"
        for s in styles:
            src = root / s / f"{r['key']}.png"
            if not src.is_file():
                continue
            rel = f"{split}/{r['age']}/{s}-{r['key']}.png"
            (data / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, data / rel)
            vals = {a: 0 for a in ATTRS}
            vals[r["age"].capitalize()] = vals[r["gender"].capitalize()] = vals[f"Tone_{r['tone']}"] = 1
            judge_rows.append({"file": rel, "split": split, **vals})
            if r["plain"] == "1":
                files[(r["age"], r["gender"], int(r["tone"]), s)] = rel
    with open(data / "judge.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "split", *ATTRS])
        w.writeheader()
        w.writerows(judge_rows)
    subjects = [{"input": files[("older", g, t, s)], "truth": files[("child", g, t, s)], "gender": g, "tone": t,
                 "style": s} for (g, t) in sorted(TEST_IDS, key=lambda i: i[1]) for s in styles
                if ("older", g, t, s) in files and ("child", g, t, s) in files]
    pairs = [(files[("older", g, t, s)], files[("child", g, t, s)]) for g in GENDERS for t in TONES for s in styles
             if (g, t) not in TEST_IDS and ("older", g, t, s) in files and ("child", g, t, s) in files]
    counts = {a: len(list((data / "train" / a).glob("*.png"))) for a in AGES}
    if not subjects or not pairs or not all(counts.values()):
        raise GankitError(f"{root}: not enough age images to build the comparison (train {counts}, "
                          f"{len(subjects)} subjects)")
    return {"styles": styles, "subjects": subjects, "pairs": pairs, "train_counts": counts,
            "test_identities": sorted(TEST_IDS, key=lambda i: i[1])}


def train_route(route: str, args) -> Path:
    run = Path(args.out) / route
    if (run / "checkpoints").is_dir() and not args.steps:
        return run
    preset, over = SHRINK[route]
    data_path = Path(args.out) / "data" / "train"
    cmd = [sys.executable, "-m", "gankit.cli.main", "train", preset, "--out", str(run), "--steps",
           str(args.steps or 100_000_000), f"data.path={data_path}", "data.resolution=32", "data.num_workers=0",
           f"train.device={args.device}", f"train.seed={args.seed}", "train.progress=false", *over,
           *(TINY[route] if args.tiny else [])]
    if not args.steps:
        cmd.append(f"train.max_time={args.seconds:g}")
    t = time.time()
    done = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode not in (0, 124):  # 124: stopped by train.max_time (the expected end), checkpoint saved
        raise GankitError(f"{route}: training failed (rc {done.returncode}): {done.stderr[-1500:]}")
    print(f"{route}: trained {time.time() - t:.0f} s", flush=True)
    return run


def load(paths: list[str], data: Path) -> torch.Tensor:
    from gankit.editing.projection import prepare_target
    from gankit.pipelines import load_image

    return torch.cat([prepare_target(load_image(data / p), 32, 3) for p in paths])


def train_judge(args, data: Path) -> tuple[torch.nn.Module, dict]:
    from gankit.data.attributes import AttributeTable
    from gankit.editing.classifier import load_classifier, save_classifier, train_classifier

    folder = Path(args.out) / "judge"
    if (folder / "classifier.json").is_file() and not args.steps:
        return load_classifier(folder)
    train = AttributeTable(data / "judge.csv", resolution=32, split="train")
    test = AttributeTable(data / "judge.csv", resolution=32, split="test")
    model, report = train_classifier(train, test, steps=args.judge_steps, seed=args.seed)
    save_classifier(model, folder, report)
    return load_classifier(folder)


def verdicts(judge, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The judge's argmax age, gender and tone of images x ([-1, 1])."""
    from gankit.editing.classifier import predict

    p = predict(judge, x)
    return {"age": p[:, 0:3].argmax(1), "gender": p[:, 3:6].argmax(1), "tone": p[:, 6:12].argmax(1)}


def judge_accuracy(judge, data: Path) -> dict:
    """Age / gender / tone argmax accuracy of the judge on the real test-identity images, per age."""
    with open(data / "judge.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    out = {}
    for age in AGES:
        sel = [r for r in rows if r[age.capitalize()] == "1"]
        v = verdicts(judge, load([r["file"] for r in sel], data))
        truth = {"age": [AGES.index(age)] * len(sel),
                 "gender": [next(i for i, g in enumerate(GENDERS) if r[g.capitalize()] == "1") for r in sel],
                 "tone": [next(t for t in TONES if r[f"Tone_{t}"] == "1") for r in sel]}
        out[age] = {k: float((v[k] == torch.tensor(truth[k])).float().mean()) for k in truth} | {"n": len(sel)}
    return out


def edit_cyclegan(args, x: torch.Tensor) -> torch.Tensor:
    from gankit.pipelines import load_run
    from gankit.pipelines.translation import translate

    run = load_run(Path(args.out) / "cyclegan", args.device)
    return translate(run, x, "a2b").clamp(-1, 1)  # domains [older, child]: a2b = older -> child


def edit_acgan(args, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    from gankit.editing.cond_projection import conditional_edit, fit_latent, train_encoder
    from gankit.pipelines import load_run

    run = load_run(Path(args.out) / "acgan", args.device)
    G = run.net
    torch.manual_seed(args.seed)
    E = train_encoder(G, 32, 3, steps=args.encoder_steps, seed=args.seed, device=args.device)
    older = torch.full((len(x),), AGES.index("older"))
    fit = fit_latent(G, x, older, E, steps=args.fit_steps)
    young = conditional_edit(G, fit.z, torch.full((len(x),), AGES.index("child")))
    recon = conditional_edit(G, fit.z, older)
    info = {"fit_distance_start": sum(fit.start_distance) / len(x), "fit_distance_end": sum(fit.distance) / len(x),
            "recon_l1": float((recon - x).abs().mean()), "steps": run.step}
    return young, info


def edit_style(args, x: torch.Tensor, pairs: list[tuple[str, str]], data: Path) -> tuple[torch.Tensor, dict]:
    from gankit.editing.directions import apply_direction, exemplar_direction
    from gankit.editing.projection import project, reconstruct
    from gankit.pipelines import load_run, load_style_generator

    G, _ = load_style_generator(str(Path(args.out) / "style"), args.device)
    kw = dict(space="w", steps=args.fit_steps, perceptual="none", device=args.device)

    def proj(img: torch.Tensor, seed: int):
        return project(G, img, generator=torch.Generator().manual_seed(seed), **kw)

    olds = torch.stack([proj(load([o], data), i).ws for i, (o, _) in enumerate(pairs)])
    youngs = torch.stack([proj(load([y], data), 1000 + i).ws for i, (_, y) in enumerate(pairs)])
    direction = exemplar_direction(olds, youngs)
    out, recon = [], []
    for i in range(len(x)):
        res = proj(x[i:i + 1], 2000 + i)
        imgs = reconstruct(G, apply_direction(res.ws, direction, [0.0, -args.alpha]), res.noises)
        recon.append(imgs[0])
        out.append(imgs[1])
    recon_t = torch.stack(recon).clamp(-1, 1)
    info = {"pairs": len(pairs), "direction_norm": float(direction.norm()), "alpha": -args.alpha,
            "recon_l1": float((recon_t - x).abs().mean()), "steps": load_run(Path(args.out) / "style").step}
    return torch.stack(out).clamp(-1, 1), info


def score(judge, pred: torch.Tensor, x: torch.Tensor, y: torch.Tensor, subjects: list[dict]) -> dict:
    from gankit.pipelines.translation import score_pairs

    s = score_pairs(pred, x, y)
    v = verdicts(judge, pred)
    gender = torch.tensor([GENDERS.index(r["gender"]) for r in subjects])
    tone = torch.tensor([r["tone"] for r in subjects])
    return {"l1": s["l1"], "ssim": s["ssim"],
            "age_child": float((v["age"] == AGES.index("child")).float().mean()),
            "identity_kept": float(((v["gender"] == gender) & (v["tone"] == tone)).float().mean()),
            "tone_kept": float((v["tone"] == tone).float().mean())}


def run(args) -> dict:
    out, root = Path(args.out), Path(args.data)
    t0 = time.time()
    info = build_data(root, out)
    data = out / "data"
    print(f"data: train {info['train_counts']}, {len(info['subjects'])} test subjects, {len(info['pairs'])} "
          f"exemplar pairs", flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda r: train_route(r, args), ROUTES))
    judge, meta = train_judge(args, data)
    subjects = info["subjects"]
    x = load([s["input"] for s in subjects], data)
    y = load([s["truth"] for s in subjects], data)
    edits, extra = {"do nothing": x}, {}
    edits["CycleGAN"] = edit_cyclegan(args, x)
    edits["acGAN"], extra["acGAN"] = edit_acgan(args, x)
    edits["style + direction"], extra["style + direction"] = edit_style(args, x, info["pairs"], data)
    rows = {name: score(judge, pred, x, y, subjects) for name, pred in edits.items()}
    rows["truth (the real child)"] = score(judge, y, x, y, subjects)
    figure(out / "routes.png", x, edits, y)
    summary = {"task": "older -> child", "seed": args.seed, "seconds_per_route": args.seconds, "rows": rows,
               "extra": extra, "judge": {"test_accuracy": judge_accuracy(judge, data),
                                         "train_steps": meta.get("steps")},
               "subjects": subjects, "data": {k: v for k, v in info.items() if k != "subjects"},
               "wall_seconds": round(time.time() - t0, 1)}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def figure(path: Path, x: torch.Tensor, edits: dict[str, torch.Tensor], y: torch.Tensor) -> None:
    from gankit.editing.media import image_grid, save_png

    rows = [x] + [v for k, v in edits.items() if k != "do nothing"] + [y]
    grid = image_grid(torch.cat(rows), nrow=len(x))
    save_png(path, grid.repeat(3, 0).repeat(3, 1))  # 32² is small on screen


def table(s: dict) -> str:
    lines = ["| route | L1 to true child ↓ | SSIM ↑ | judged child ↑ | identity kept ↑ | tone kept ↑ |",
             "|---|---|---|---|---|---|"]
    for name, r in s["rows"].items():
        lines.append(f"| {name} | {r['l1']:.4f} | {r['ssim']:.4f} | {r['age_child']:.2f} | {r['identity_kept']:.2f} "
                     f"| {r['tone_kept']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="data/emoji_styles64", help="gankit data emoji-styles folder")
    p.add_argument("--out", default="runs/aging_routes")
    p.add_argument("--time", default="8m", help="training wall time per route (e.g. 480, 8m)")
    p.add_argument("--steps", type=int, default=0, help="train each route this many steps instead of --time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=2, help="routes trained at the same time")
    p.add_argument("--threads", type=int, default=1, help="threads per training process")
    p.add_argument("--device", default="cpu")
    p.add_argument("--fit-steps", type=int, default=200, help="latent fitting / projection steps per image")
    p.add_argument("--encoder-steps", type=int, default=1500, help="acGAN encoder training steps")
    p.add_argument("--judge-steps", type=int, default=1500)
    p.add_argument("--alpha", type=float, default=1.0, help="style route: move by -alpha x the age direction")
    p.add_argument("--tiny", action="store_true", help="tiny networks (smoke test; use with --steps)")
    args = p.parse_args(argv)
    try:
        args.seconds = parse_duration(args.time, "--time")
        s = run(args)
    except GankitError as e:
        print(f"aging_routes: error: {e}", file=sys.stderr)
        return 2
    print(table(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
