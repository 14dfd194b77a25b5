"""Seed 001's claims at CPU size: ACL-GAN variants vs StarGAN vs doing nothing, equal wall time.

    gankit data emoji --size 64 --out data/emoji64
    gankit classifier train --data emoji --root data/emoji64 --resolution 32 --out runs/cls_emoji32   # the judge
    python benchmarks/aclgan_study.py --out runs/aclgan_study --budget 420 --seeds 0 \\
        --variants base,changed,outside_mask,wgan_gp,ramp,lambda03,stargan --jobs 2

Each (variant, seed) trains the emoji preset shrunk to 32² (narrow networks, batch 16, one
thread per process, no learning-rate decay) for ``--budget`` seconds of wall time
(``train.max_time``), then ``gankit score`` judges it on the 210 real test images (1,050
single-attribute flips; adding a skin tone or gender clears the other members of its group)
and on the exact counterfactual pairs. Finished (variant, seed) pairs are kept and skipped on a
rerun, so the study can be grown seed by seed. The report adds the do-nothing editor and the
judge's own accuracy on real test images, split into present (what an add must reach) and
absent (what a removal must reach), then prints a markdown table of mean ± std over seeds
(also written to OUT/report.md and OUT/report.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.train.logging import read_records  # noqa: E402  (light: json, tqdm)

SHRINK = ["data.resolution=32", "model.generator.width=16", "model.generator.n_res=3",
          "model.discriminator.width=16", "model.discriminator.n_layers=4", "train.batch_size=16"]
RUN = ["data.num_workers=0", "optim.lr_decay_start=1000000", "train.sample_every=1000",
       "train.ckpt_every=1000", "train.progress=false", "train.keep_last=1"]
# --scale: cpu32 = the shrunk setting above on the CPU; gpu64 = the presets' own 64² networks on
# one GPU (judge: a classifier trained at 64², e.g. gankit classifier train ... --resolution 64)
SCALES = {"cpu32": (SHRINK, {"OMP_NUM_THREADS": "1"}), "gpu64": (["data.resolution=64"], {})}
ACL = "recipe.kwargs."
VARIANTS: dict[str, tuple[str, list[str], str]] = {
    "base": ("aclgan_emoji", [f"{ACL}judge=all"], "the seed's form: polarity both, every target head judges, L1 content, LSGAN, λ=1"),
    "changed": ("aclgan_emoji", [f"{ACL}judge=changed"], "fakes judged only by the heads of changed attributes"),
    "outside_mask": ("aclgan_emoji", [f"{ACL}judge=all", f"{ACL}content=l1_outside_mask", f"{ACL}lambda_mask=0.1"],
                     "content L1 outside the mask only + mask prior 0.1·mean(m)"),
    "changed_outside": ("aclgan_emoji", [f"{ACL}judge=changed", f"{ACL}content=l1_outside_mask",
                                         f"{ACL}lambda_mask=0.1"], "changed heads + outside-mask content + prior"),
    "changed_outside_p1": ("aclgan_emoji", [f"{ACL}judge=changed", f"{ACL}content=l1_outside_mask",
                                            f"{ACL}lambda_mask=1.0"], "changed heads + outside-mask content + prior 1.0"),
    "wgan_gp": ("aclgan_emoji", [f"{ACL}judge=all", f"{ACL}form=wgan-gp"], "WGAN-GP form of the attribute loss (λ_gp 10)"),
    "ramp": ("aclgan_emoji", [f"{ACL}judge=all", f"{ACL}content_ramp=2000"], "λ_content ramps 0 → 1 over 2,000 steps"),
    "lambda03": ("aclgan_emoji", [f"{ACL}judge=all", f"{ACL}lambda_content=0.3"], "λ_content = 0.3"),
    "changed_lambda03": ("aclgan_emoji", [f"{ACL}judge=changed", f"{ACL}lambda_content=0.3"],
                         "changed heads + λ_content = 0.3"),
    "no_mask": ("aclgan_emoji", [f"{ACL}judge=changed", "model.generator.mask=false"],
                "changed heads, framing (2 px) but no mask"),
    "no_frame": ("aclgan_emoji", [f"{ACL}judge=changed", "model.generator.frame=0"], "changed heads, mask, no framing"),
    "plain": ("aclgan_emoji", [f"{ACL}judge=changed", "model.generator.mask=false", "model.generator.frame=0"],
              "changed heads, neither mask nor framing"),
    "grow": ("aclgan_emoji", [f"{ACL}judge=changed", "model.generator.grow=true", "model.discriminator.grow=true",
                              "model.discriminator.grow_stages=3", f"{ACL}grow_steps=300"],
             "changed heads + bidirectional growing: 8² → 16² → 32², 300 steps per phase"),
    "changed_ramp": ("aclgan_emoji", [f"{ACL}judge=changed", f"{ACL}content_ramp=2000"],
                     "changed heads + λ_content ramp over 2,000 steps"),
    "changed_lambda06": ("aclgan_emoji", [f"{ACL}judge=changed", f"{ACL}lambda_content=0.6"],
                         "changed heads + λ_content = 0.6"),
    "positive": ("aclgan_emoji", [f"{ACL}judge=all", "model.discriminator.polarity=positive"], "the seed's literal positive-only heads"),
    "stargan": ("stargan_emoji", [], "StarGAN: adversarial + classification + cycle, n_critic 5"),
}
KEYS = [("attr_accuracy", "accuracy"), ("attr_accuracy_add", "add"), ("attr_accuracy_remove", "remove"),
        ("cf_l1", "cf L1 ↓"), ("cf_ssim", "cf SSIM ↑"), ("l1", "L1 in→edit"), ("l1_outside_mask", "L1 outside mask"),
        ("l1_background", "L1 background"), ("mask_mean", "mask mean (end)"), ("steps", "G steps")]


def run_dir(args, name: str, seed: int) -> Path:
    return Path(args.out) / ("curve" if args.curve else "") / name / f"s{seed}"


def train_and_score(name: str, seed: int, args) -> dict:
    run = run_dir(args, name, seed)
    score = run / "score.json"
    if score.is_file():
        return json.loads(score.read_text())
    preset, over, _ = VARIANTS[name]
    size, extra_env = SCALES[args.scale]
    env = {**os.environ, **extra_env}
    gankit = [sys.executable, "-m", "gankit.cli.main"]
    if not (run / "checkpoints").is_dir():
        t = time.time()
        cmd = [*gankit, "train", preset, "--out", str(run), "--steps", "1000000", f"data.path={args.root}", *size, *RUN, f"train.device={args.device or ('cpu' if args.scale == 'cpu32' else 'cuda')}",
               f"train.max_time={args.budget}", f"train.seed={seed}", *over]
        if args.curve:  # every checkpoint kept, to be scored afterwards
            cmd += [f"train.ckpt_every={args.curve}", "train.keep_last=0"]
        done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode not in (0, 124):  # 124: stopped by train.max_time, checkpoint saved
            raise SystemExit(f"{name} s{seed}: training failed: {done.stderr[-1500:]}")
        print(f"{name} s{seed}: trained {time.time() - t:.0f} s", flush=True)
    subprocess.run([*gankit, "score", str(run), "--classifier", args.classifier, "--device", "cpu", "--json",
                    str(run / "score_raw.json")], env=env, check=True, stdout=subprocess.DEVNULL)
    rep = json.loads((run / "score_raw.json").read_text())
    recs = list(read_records(run))
    steps = max((r.get("step", 0) for r in recs), default=0)
    masks = [v for r in recs for k, v in r.items() if k.endswith("mask_mean")]
    row = {"variant": name, "seed": seed, "steps": steps, "mask_mean": masks[-1] if masks else None,
           "cf_l1": rep.get("counterfactual", {}).get("l1"), "cf_ssim": rep.get("counterfactual", {}).get("ssim"),
           **{k: rep.get(k) for k in ("attr_accuracy", "attr_accuracy_add", "attr_accuracy_remove", "l1",
                                       "l1_outside_mask", "attr_accuracy_per_attribute", "exclusive")}}
    row.update(background_l1(run, args.root))
    if args.curve:
        row["curve"] = curve(run, args)
    score.write_text(json.dumps(row, indent=1))
    print(f"{name} s{seed}: acc {row['attr_accuracy']:.3f} add {row['attr_accuracy_add']:.3f} "
          f"remove {row['attr_accuracy_remove']:.3f} cf L1 {row['cf_l1']:.4f}", flush=True)
    return row


def diagnose(run_dir: Path, root: str, judge: str | None = None) -> dict:
    """Why an ACL-GAN editor does (not) edit: its own generator objective on the real test
    images' single flips, for its edit and for doing nothing (the input itself), split into the
    heads of the flipped attribute, the heads of the attributes the target keeps, and the
    content term. A G whose objective is lower for the identity is pushed back to it."""
    import torch

    from gankit.cli.attr import _source, train_groups
    from gankit.data.transforms import to_float
    from gankit.editing.classifier import load_arrays
    from gankit.losses.attribute import head_weights
    from gankit.models.stargan import single_flips
    from gankit.pipelines import load_run

    torch.set_grad_enabled(False)
    run = load_run(run_dir, "cpu", ema=False)
    rec, cfg = run.recipe, run.cfg
    names = list(cfg.data.attrs)
    x, c = load_arrays(_source("emoji", root, "test", cfg.data.resolution, names))
    x, c = to_float(x), c.float()
    flips = single_flips(c, train_groups("emoji", root, cfg.data.resolution, names))
    lsgan = rec.loss.name == "lsgan"
    head_loss = (lambda z: (z - 1).pow(2)) if lsgan else (lambda z: -z)
    acc = {k: 0.0 for k in ("edit_flipped", "edit_kept", "identity_flipped", "identity_kept", "content", "mask")}
    n = 0
    for k in range(len(names)):
        t = flips[k]
        w = head_weights(t, rec.polarity)
        changed = (t != c).float()
        ch = changed if rec.polarity == "positive" else torch.cat([changed, changed], 1)
        y = rec.G(x, t)
        for who, img in (("edit", y), ("identity", x)):
            per = head_loss(rec.D(img).aux) * w
            acc[f"{who}_flipped"] += float((per * ch).sum())
            acc[f"{who}_kept"] += float((per * (1 - ch)).sum())
        parts = rec.G(x, t, parts=True)
        acc["content"] += float(rec.content_fn(x, parts)) * len(x)
        acc["mask"] += float(parts.mask.mean()) * len(x) if parts.mask is not None else 0.0
        n += len(x)
    out = {k: v / n for k, v in acc.items()}
    # the run's own G objective: kept heads count only when every head judges (judge: all).
    # ``judge``: the variant's, for runs whose config predates the key (trained with "all")
    judge = judge or rec.judge
    kept = judge == "all"
    out["objective_edit"] = (out["edit_flipped"] + kept * out["edit_kept"] + rec.lambda_content * out["content"]
                             + rec.lambda_mask * out["mask"])
    out["objective_identity"] = out["identity_flipped"] + kept * out["identity_kept"]
    out["judge"] = judge
    torch.set_grad_enabled(True)
    return out


def curve(run: Path, args) -> list[dict]:
    """Scores of every kept checkpoint: step, seconds since the run started, accuracy, cf L1."""
    from gankit.cli.attr import _load_cls, score_run
    from gankit.pipelines import load_editor
    from gankit.train.state import checkpoint_dirs

    recs = list(read_records(run))
    first = next(r for r in recs if "it_s" in r)
    t0 = first["time"] - first["step"] / first["it_s"]
    at = {r["step"]: r["time"] for r in recs if "checkpoint" in r}
    cls = _load_cls(args.classifier, "cpu")
    rows = []
    for ck in checkpoint_dirs(run):
        g, names, cfg = load_editor(ck, "cpu")
        rep = score_run(g, names, cfg, None, args.root, "test", 0, cls)
        step = int(ck.name.split("_")[-1])
        rows.append({"step": step, "seconds": at.get(step, float("nan")) - t0, "attr_accuracy": rep["attr_accuracy"],
                     "attr_accuracy_add": rep.get("attr_accuracy_add"),
                     "attr_accuracy_remove": rep.get("attr_accuracy_remove"), "cf_l1": rep["counterfactual"]["l1"]})
    return rows


def time_to_level(rows: list[dict], acc: float, cf: float) -> tuple[float, int] | None:
    """(seconds, step) of the first checkpoint with accuracy >= acc and cf L1 <= cf."""
    for r in rows:
        if r["attr_accuracy"] >= acc and r["cf_l1"] <= cf:
            return r["seconds"], r["step"]
    return None


def plot_curves(rows: list[dict], path: Path, level: tuple[float, float]) -> None:
    """Accuracy and counterfactual L1 against wall-clock seconds, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    colors: dict[str, str] = {}
    for r in rows:
        col = colors.setdefault(r["variant"], f"C{len(colors)}")
        t = [c["seconds"] for c in r["curve"]]
        a.plot(t, [c["attr_accuracy"] for c in r["curve"]], color=col, alpha=0.8,
               label=r["variant"] if r["seed"] == min(x["seed"] for x in rows if x["variant"] == r["variant"]) else None)
        b.plot(t, [c["cf_l1"] for c in r["curve"]], color=col, alpha=0.8)
    a.axhline(level[0], color="grey", ls=":", lw=1)
    b.axhline(level[1], color="grey", ls=":", lw=1)
    a.set(xlabel="seconds", ylabel="attribute accuracy (test flips)")
    b.set(xlabel="seconds", ylabel="counterfactual L1 (lower is better)", ylim=(0.09, 0.2))
    a.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def background_l1(run_dir: Path, root: str) -> dict:
    """Mean |input - edit| over the emoji's background (pixels of the input within 10/255 of the
    renderer's background colour in every channel: what framing and the mask should keep) and
    over the rest (the figure), on the single flips of the real test images."""
    import torch

    from gankit.cli.attr import _source, train_groups
    from gankit.data.emoji import BACKGROUND
    from gankit.data.transforms import to_float
    from gankit.editing.classifier import load_arrays
    from gankit.models.stargan import single_flips
    from gankit.pipelines import load_run

    with torch.no_grad():
        run = load_run(run_dir, "cpu")
        g, cfg = run.net, run.cfg
        names = list(cfg.data.attrs)
        xu, c = load_arrays(_source("emoji", root, "test", cfg.data.resolution, names))
        bg = ((xu.float() - torch.tensor(BACKGROUND, dtype=torch.float32).view(1, 3, 1, 1)).abs() <= 10).all(1, keepdim=True)
        x, c = to_float(xu), c.float()
        sums = {"bg": 0.0, "fg": 0.0}
        counts = {"bg": 0.0, "fg": 0.0}
        for t in single_flips(c, train_groups("emoji", root, cfg.data.resolution, names)):
            d = (g(x, t) - x).abs().mean(1, keepdim=True)
            for key, m in (("bg", bg), ("fg", ~bg)):
                sums[key] += float((d * m).sum())
                counts[key] += float(m.sum())
    return {"l1_background": sums["bg"] / counts["bg"], "l1_figure": sums["fg"] / counts["fg"],
            "background_share": counts["bg"] / (counts["bg"] + counts["fg"])}


def diagnose_table(rows: list[dict], root: str, out: Path) -> str:
    """Mean over seeds of :func:`diagnose` for every ACL-GAN variant (cached in diagnose.json)."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        if VARIANTS[r["variant"]][0] != "aclgan_emoji":
            continue
        f = out / ("curve" if "curve" in r else "") / r["variant"] / f"s{r['seed']}" / "diagnose.json"
        pinned = [o.split("=", 1)[1] for o in VARIANTS[r["variant"]][1] if o.startswith(f"{ACL}judge=")]
        if not f.is_file() or json.loads(f.read_text()).get("judge") != (pinned or [None])[0]:
            f.write_text(json.dumps(diagnose(f.parent, root, pinned[0] if pinned else None)))
        by.setdefault(r["variant"], []).append(json.loads(f.read_text()))
    cols = ["edit_flipped", "identity_flipped", "edit_kept", "identity_kept", "content", "objective_edit",
            "objective_identity"]
    lines = ["| variant | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, ds in by.items():
        if any("judge" not in d for d in ds):  # cached by an older version of this script
            continue
        lines.append(f"| {name} | " + " | ".join(f"{statistics.mean(d[c] for d in ds):.3f}" for c in cols) + " |")
    return "\n".join(lines)


def baselines(args) -> tuple[dict, dict]:
    """(do-nothing editor's scores, the judge on real test images: present / absent accuracy)."""
    import torch

    from gankit.cli.attr import _load_cls, _source, score_run, train_groups
    from gankit.editing.classifier import load_arrays
    from gankit.editing.scoring import _fit
    from gankit.models.stargan import EditOut

    names = ["Tone_1", "Tone_3", "Tone_5", "Male", "Female"]
    res = 32 if args.scale == "cpu32" else 64

    class Identity(torch.nn.Module):
        resolution = res

        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, c, parts=False):
            return EditOut(x, None, None) if parts else x

    cls = _load_cls(args.classifier, "cpu")
    rep = score_run(Identity(), names, {"data": {"name": "emoji", "path": args.root}}, None, None, "test", 0, cls)
    nothing = {"variant": "do-nothing", "steps": 0, "cf_l1": rep["counterfactual"]["l1"],
               "cf_ssim": rep["counterfactual"]["ssim"],
               **{k: rep.get(k) for k in ("attr_accuracy", "attr_accuracy_add", "attr_accuracy_remove", "l1")}}
    x, c = load_arrays(_source("emoji", args.root, "test", res, names))
    from gankit.data.transforms import to_float

    with torch.no_grad():
        logits = cls(_fit(cls, to_float(x)))
    idx = [list(cls.gankit_names).index(n) for n in names]
    pred = (torch.sigmoid(logits[:, idx]) > 0.5).float()
    c = c.float()
    judge = {n: {"present": float(pred[c[:, i] > 0.5, i].mean()), "absent": float(1 - pred[c[:, i] < 0.5, i].mean()),
                 "n_present": int((c[:, i] > 0.5).sum())} for i, n in enumerate(names)}
    judge["_exclusive"] = [[names[i] for i in g] for g in train_groups("emoji", args.root, res, names)]
    return nothing, judge


def table(rows: list[dict], nothing: dict) -> str:
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["variant"], []).append(r)
    head = "| variant | seeds | " + " | ".join(label for _, label in KEYS) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(KEYS)]

    def cell(vals):
        vals = [v for v in vals if v is not None]
        if not vals:
            return "—"
        if len(vals) == 1:
            return f"{vals[0]:.0f}" if abs(vals[0]) > 50 or vals[0] == 0 else f"{vals[0]:.3f}"
        m, s = statistics.mean(vals), statistics.stdev(vals)
        return f"{m:.0f} ± {s:.0f}" if m > 50 else f"{m:.3f} ± {s:.3f}"

    for name, rs in by.items():
        lines.append(f"| {name} | {len(rs)} | " + " | ".join(cell([r.get(k) for r in rs]) for k, _ in KEYS) + " |")
    lines.append("| do-nothing | — | " + " | ".join(cell([nothing.get(k)]) for k, _ in KEYS) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/aclgan_study")
    ap.add_argument("--root", default="data/emoji64")
    ap.add_argument("--classifier", default="runs/cls_emoji32")
    ap.add_argument("--budget", default="420", help="wall time per run (train.max_time: seconds or 7m)")
    ap.add_argument("--seeds", default="0", help="comma list")
    ap.add_argument("--variants", default="base,changed,stargan", help="comma list of " + ",".join(VARIANTS))
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (one CPU thread each)")
    ap.add_argument("--scale", default="cpu32", choices=list(SCALES),
                    help="cpu32: narrow networks at 32² on the CPU; gpu64: the presets at 64² on one GPU")
    ap.add_argument("--device", default=None, help="training device (default: cpu for cpu32, cuda for gpu64)")
    ap.add_argument("--report-only", action="store_true", help="no training: table of what is finished")
    ap.add_argument("--curve", type=int, default=0, metavar="STEPS",
                    help="keep a checkpoint every STEPS steps and score each (runs go under OUT/curve/)")
    ap.add_argument("--level", default="0.4,0.12", help="accuracy,cf L1: the level whose time to reach --curve reports")
    ap.add_argument("--plot", default=None, help="with --curve: write the curves to this PNG")
    ap.add_argument("--diagnose", action="store_true", help="add each ACL-GAN run's G objective, edit vs identity")
    args = ap.parse_args()
    names = [v for v in args.variants.split(",") if v]
    bad = [v for v in names if v not in VARIANTS]
    if bad:
        raise SystemExit(f"--variants: unknown {', '.join(bad)} (known: {', '.join(VARIANTS)})")
    seeds = [int(s) for s in args.seeds.split(",")]
    todo = [(n, s) for s in seeds for n in names]
    if args.report_only:
        rows = [json.loads(p.read_text()) for n, s in todo if (p := run_dir(args, n, s) / "score.json").is_file()]
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(lambda t: train_and_score(t[0], t[1], args), todo))
    for r in rows:  # rows scored before the background measure existed
        if "l1_background" not in r:
            f = run_dir(args, r["variant"], r["seed"])
            r.update(background_l1(f, args.root))
            (f / "score.json").write_text(json.dumps(r, indent=1))
    nothing, judge = baselines(args)
    text = table(rows, nothing)
    judge_line = ", ".join(f"{n} {v['present']:.2f}/{v['absent']:.2f}" for n, v in judge.items() if not n.startswith("_"))
    text += f"\n\nJudge on the real test images, present/absent accuracy: {judge_line}; exclusive groups {judge['_exclusive']}."
    out = Path(args.out)
    if args.curve:
        acc, cf = (float(v) for v in args.level.split(","))
        text += f"\n\nFirst checkpoint (every {args.curve} steps) with accuracy ≥ {acc} and cf L1 ≤ {cf}:\n"
        for r in rows:
            hit = time_to_level(r["curve"], acc, cf)
            text += (f"\n- {r['variant']} s{r['seed']}: " + (f"{hit[0]:.0f} s, step {hit[1]}" if hit else "not reached")
                     + " (best accuracy " + f"{max(c['attr_accuracy'] for c in r['curve']):.3f})")
        if args.plot:
            plot_curves(rows, Path(args.plot), (acc, cf))
    if args.diagnose:
        text += ("\n\nEach run's own G objective on the test flips, for its edit and for the input unchanged "
                 "(heads of the flipped attribute / of the kept attributes / content):\n\n")
        text += diagnose_table(rows, args.root, out)
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(text + "\n")
    (out / "report.json").write_text(json.dumps({"rows": rows, "do_nothing": nothing, "judge": judge}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
