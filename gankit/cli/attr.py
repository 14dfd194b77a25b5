"""Attribute-editing commands: ``translate``, ``classifier train``, ``score``, ``sweep``.

    gankit translate RUN --image in.png --set Male=1 [--set Female=0] --out out.png
    gankit translate RUN --grid --images DIR_OR_FILES... --out grid.png
    gankit classifier train --data emoji --root data/emoji64 --out runs/cls_emoji64
    gankit score RUN --classifier runs/cls_emoji64 [--data emoji --root data/emoji64] [--fid]
    gankit sweep stargan|aclgan --trials 20 --steps 500 [--storage sqlite:///x.db] [key=value ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gankit.errors import GankitError
from gankit.io import write_json_atomic


def add_parsers(sub) -> None:
    t = sub.add_parser("translate", help="edit attributes (StarGAN/ACL-GAN run) or translate images (pix2pix/CycleGAN run)",
                       description="Edit one image (--image, --set NAME=0|1) or write a grid (--grid --images): rows "
                                   "are inputs, columns original, each single-attribute flip, mask, segment.")
    t.add_argument("ckpt", metavar="RUN_DIR_OR_CKPT")
    t.add_argument("--image", help="input image (single-image mode)")
    t.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=0|1", help="target attribute value (repeatable)")
    t.add_argument("--grid", action="store_true", help="grid mode over --images")
    t.add_argument("--images", nargs="+", metavar="DIR_OR_FILE", help="grid inputs: image files and/or folders")
    t.add_argument("--classifier", metavar="CLS_DIR", help="infer the inputs' current attributes with this classifier "
                   "(default: attributes.csv of an attribute dataset the image is in, else all 0)")
    t.add_argument("--dir", help="pix2pix/CycleGAN runs: translate every image of this folder into --out (a folder)")
    t.add_argument("--direction", default="a2b", choices=("a2b", "b2a"), help="pix2pix/CycleGAN runs: A -> B or B -> A")
    t.add_argument("--out", required=True, help="output PNG (a folder with --dir)")
    t.add_argument("--device", default="auto")
    t.set_defaults(func=cmd_translate)

    c = sub.add_parser("classifier", help="attribute classifier used to score edits")
    csub = c.add_subparsers(dest="classifier_command", metavar="{train}")
    csub.required = True
    ct = csub.add_parser("train", help="train on the real training split; report test accuracy")
    _data_args(ct, need_data=True)
    ct.add_argument("--out", required=True, help="folder for classifier.safetensors + classifier.json")
    ct.add_argument("--steps", type=int, default=1500)
    ct.add_argument("--batch", type=int, default=64)
    ct.add_argument("--lr", type=float, default=1e-3)
    ct.add_argument("--width", type=int, default=32)
    ct.add_argument("--seed", type=int, default=0)
    ct.set_defaults(func=cmd_classifier_train)

    s = sub.add_parser("score", help="score an attribute editor (accuracy, content, counterfactuals, FID)")
    s.add_argument("ckpt", metavar="RUN_DIR_OR_CKPT")
    s.add_argument("--classifier", metavar="CLS_DIR", help="attribute classifier (gankit classifier train)")
    _data_args(s, need_data=False)
    s.add_argument("--split", default="test")
    s.add_argument("--n", type=int, default=0, help="use the first N images (0 = all)")
    s.add_argument("--pairs", type=int, default=0, help="counterfactual tasks to score, evenly spaced (0 = all)")
    s.add_argument("--fid", action="store_true", help="also FID of the edits vs the split's real images (slow on CPU)")
    s.add_argument("--json", dest="json_out", help="also write the report to this file")
    s.set_defaults(func=cmd_score)

    w = sub.add_parser("sweep", help="Optuna search of the loss weights (StarGAN: lambda_cls, lambda_rec; ACL-GAN: lambda_content)")
    w.add_argument("method", choices=("stargan", "aclgan"))
    w.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides for every trial")
    w.add_argument("--trials", type=int, default=20, help="complete trials the study should have: running the same "
                   "command again continues an interrupted sweep (more trials: a larger number)")
    w.add_argument("--max-time", default="", help="wall-clock budget of the whole sweep (3h50m, 90m, seconds); "
                   "the running trial is saved and retried by the next call")
    w.add_argument("--steps", type=int, default=500, help="training steps per trial (the fixed budget)")
    w.add_argument("--trial-time", default="", help="also bound each trial by its training wall time (150s, 5m): "
                   "equal time per trial, whatever a method's step costs; --steps then only sets the lr schedule")
    w.add_argument("--root", default="data/emoji64", help="emoji build (training data and counterfactual pairs)")
    w.add_argument("--classifier", metavar="CLS_DIR", help="adds attribute accuracy to the objective")
    w.add_argument("--storage", help="Optuna storage URL (default: sqlite:///OUT/sweep.db)")
    w.add_argument("--out", help="sweep folder (default: runs/sweep-METHOD)")
    w.add_argument("--n-score", type=int, default=64, help="test images scored per trial (and 4x as many counterfactual tasks)")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--device", default="auto")
    w.set_defaults(func=cmd_sweep)


def _data_args(p: argparse.ArgumentParser, need_data: bool) -> None:
    p.add_argument("--data", required=need_data, help="emoji | celeba | attributes" + ("" if need_data else " (default: the run's)"))
    p.add_argument("--root", help="dataset folder (attributes: the CSV file)")
    p.add_argument("--attrs", help="comma-separated attribute names (default: the run's, or all)")
    p.add_argument("--resolution", type=int, help="image size (default: the run's, or 64)")
    p.add_argument("--device", default="auto")


def _source(data: str, root: str | None, split: str, resolution: int, attrs: list[str]):
    from gankit.pipelines import attribute_source

    return attribute_source(data, root, split, resolution, attrs)


def _save(imgs, out: str, nrow: int) -> None:
    from torchvision.utils import save_image

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_image(imgs, out, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)


def cmd_translate(args: argparse.Namespace) -> int:
    from gankit.cli.translate import cmd_translate_images, is_translator_run
    from gankit.train.build import resolve_device

    run = is_translator_run(args.ckpt, str(resolve_device(args.device)))  # pix2pix / CycleGAN: whole-image translation (gankit.cli.translate)
    if run is not None:
        return cmd_translate_images(args, run)
    if args.dir:
        raise GankitError("translate: --dir is for pix2pix/CycleGAN runs; attribute editors take --grid --images DIR")
    from gankit.editing import attributes as A
    from gankit.pipelines import load_editor
    from gankit.train.build import resolve_device

    if args.grid == bool(args.image) or (args.grid and not args.images):
        raise GankitError("translate: give either --image FILE (with --set NAME=0|1) or --grid --images DIR_OR_FILES")
    device = resolve_device(args.device)
    g, names, cfg = load_editor(args.ckpt, device)
    cls = _load_cls(args.classifier, device)
    paths = A.list_images(args.images) if args.grid else A.list_images([args.image], "--image")
    x = A.read_images(paths, g.resolution)
    c_src, origin = A.source_attributes(paths, names, x, cls)
    if args.grid:
        d = cfg.get("data", {})
        try:  # exclusive attributes from the run's training data, when it is still there
            groups = train_groups(d.get("name", "emoji"), d.get("path"), g.resolution, names)
        except GankitError:
            groups = []
        imgs, nrow = A.edit_grid(g, x, c_src, groups=groups)
        _save(imgs, args.out, nrow)
        extra = ", mask, segment (of the first flip)" if g.use_mask else ""
        print(f"wrote {args.out}: {len(paths)} rows; columns original, flip {', '.join(names)}{extra}; "
              f"source attributes from {', '.join(sorted(set(origin)))}")
        return 0
    changes = A.parse_sets(args.sets, names)
    if not changes:
        raise GankitError("translate: give at least one --set NAME=0|1")
    out, target = A.translate(g, x, c_src, changes)
    _save(out.image.float().cpu(), args.out, 1)
    fmt = lambda v: " ".join(f"{n}={int(b)}" for n, b in zip(names, v.tolist()))  # noqa: E731
    print(f"source ({origin[0]}): {fmt(c_src[0])}\ntarget: {fmt(target[0])}\nwrote {args.out}")
    return 0


def _load_cls(path, device):
    if not path:
        return None
    from gankit.editing.classifier import load_classifier

    return load_classifier(path, device)[0]


def cmd_classifier_train(args: argparse.Namespace) -> int:
    from gankit.editing.classifier import save_classifier, train_classifier
    from gankit.train.build import resolve_device

    attrs = [a.strip() for a in args.attrs.split(",")] if args.attrs else []
    res = args.resolution or 64
    train_src = _source(args.data, args.root, "train", res, attrs)
    test_src = _source(args.data, args.root, "test", res, attrs)
    model, report = train_classifier(train_src, test_src, args.steps, args.batch, args.lr, args.width,
                                     resolve_device(args.device), args.seed, log=print)
    out = save_classifier(model, args.out, report)
    te = report["test"]
    print(f"classifier -> {out}: test accuracy {te['accuracy']:.3f}, balanced {te['balanced_accuracy']:.3f} "
          f"({te['n']} real test images)")
    for n, v in te["per_attribute"].items():
        print(f"  {n:<14} accuracy {v['accuracy']:.3f}  balanced {v['balanced']:.3f}  positives {v['positives']}")
    return 0


def train_groups(data: str, root: str | None, resolution: int, names: list[str]) -> list[list[int]]:
    """Mutually exclusive attributes, inferred from the training split's attribute table
    (:func:`gankit.models.stargan.exclusive_groups`); flips that add one clear the others."""
    import torch

    from gankit.models.stargan import exclusive_groups

    src = _source(data, root, "train", resolution, names)
    attrs = getattr(src, "attrs", None)  # the attribute sources keep the table: no image decoded
    if attrs is None:
        attrs = torch.stack([torch.as_tensor(src[i][1]) for i in range(len(src))])
    return exclusive_groups(torch.as_tensor(attrs).float())


def score_run(g, names: list[str], cfg: dict, data: str | None, root: str | None, split: str, n: int,
              cls=None, fid: bool = False, device="cpu", pairs: int = 0) -> dict:
    """Score editor ``g`` on the real ``split`` of its data (or ``data``/``root``); see scoring.score_editor."""
    from gankit.editing.classifier import load_arrays
    from gankit.editing.scoring import score_editor
    from gankit.data.transforms import to_float
    from gankit.metrics.sources import DatasetSource

    d = cfg.get("data", {})
    data = data or d.get("name", "emoji")
    root = root or d.get("path")
    src = _source(data, root, split, g.resolution, names)
    if n:
        from gankit.data.sources import Subset
        src = Subset(src, n)
    x, c = load_arrays(src)
    fid_ref = DatasetSource(src, name=f"{data}:{split}") if fid else None
    cf_root = root if data == "emoji" else None
    rep = score_editor(g, names, to_float(x), c, cls, cf_root, split, fid_ref, device, cf_limit=pairs or None,
                       groups=train_groups(data, root, g.resolution, names))
    rep.update({"data": data, "root": str(root), "split": split, "attributes": names})
    return rep


def cmd_score(args: argparse.Namespace) -> int:
    from gankit.editing.scoring import format_table
    from gankit.pipelines import load_editor
    from gankit.train.build import resolve_device

    device = resolve_device(args.device)
    g, names, cfg = load_editor(args.ckpt, device)
    if args.attrs:
        raise GankitError("score: --attrs is fixed by the checkpoint (it edits " + ", ".join(names) + ")")
    cls = _load_cls(args.classifier, device)
    rep = score_run(g, names, cfg, args.data, args.root, args.split, args.n, cls, args.fid, device, args.pairs)
    if args.classifier:
        from gankit.editing.classifier import load_classifier
        meta = load_classifier(args.classifier)[1]
        rep["classifier"] = {"path": args.classifier, "test_accuracy": meta.get("test", {}).get("accuracy")}
    print(format_table(rep))
    print(json.dumps(rep))
    if args.json_out:
        write_json_atomic(args.json_out, rep)
    return 0


SEARCH_SPACE = {  # log-uniform ranges around the papers' defaults (1, 10; 1)
    "stargan": {"lambda_cls": (0.1, 10.0), "lambda_rec": (1.0, 100.0)},
    "aclgan": {"lambda_content": (0.1, 100.0)},
}


def trial_dir(out: Path, params: dict, study: str) -> Path:
    """A trial's run folder, named by its study and parameters: a retried trial continues its
    checkpoint, and a study of other settings in the same folder never picks it up."""
    import hashlib

    key = json.dumps({"study": study, **{k: float(v) for k, v in sorted(params.items())}}, sort_keys=True)
    return out / "trials" / f"p-{hashlib.sha1(key.encode()).hexdigest()[:12]}"


TRIAL_SECONDS = "sweep_trial_seconds"  # extra_state key: a trial's training wall time so far (checkpointed)


def run_trial(args: argparse.Namespace, params: dict, out: Path, cls, device, max_time: str = "",
              study: str = "") -> dict:
    """Train ``args.steps`` steps (and at most ``args.trial_time``) of the method's emoji preset
    with ``params``; score the result.

    Trials checkpoint like any run (``train.ckpt_minutes``), so an interrupted trial that is
    retried with the same parameters continues where it stopped, with the trial time it had left."""
    import shutil
    import time

    from gankit.config import load_config
    from gankit.errors import Stopped
    from gankit.train.state import latest_checkpoint, load_checkpoint
    from gankit.train.trainer import Trainer, fit_or_interrupt

    run_dir = trial_dir(out, params, study)
    ck = latest_checkpoint(run_dir)
    over = [f"data.path={args.root}", f"train.steps={args.steps}", "train.sample_every=0", "train.ckpt_every=0",
            "train.progress=false", f"train.device={device}", f"train.seed={args.seed}", "train.keep_last=1",
            f"optim.lr_decay_start={max(1, args.steps // 2)}", *args.overrides]
    trial_left, spent = None, 0.0
    if args.trial_seconds:
        spent = float(load_checkpoint(ck)[1].get("extra", {}).get(TRIAL_SECONDS, 0.0)) if ck is not None else 0.0
        trial_left = max(0.001, args.trial_seconds - spent)
    sweep_left = float(max_time) if max_time else None  # what is left of the sweep's --max-time
    limits = [x for x in (trial_left, sweep_left) if x is not None]
    if limits:  # a train.max_time override bounds this trial
        over.append(f"train.max_time={min(limits):.3f}")
    over += [f"recipe.kwargs.{k}={v}" for k, v in params.items()]
    cfg = load_config(f"{args.method}_emoji", over)
    tr = Trainer(cfg, run_dir, resume=ck is not None)
    if trial_left is not None:  # the trial's training time so far, carried by its checkpoints
        t0 = time.monotonic()

        def clock(trainer: Trainer, step: int) -> None:
            trainer.extra_state[TRIAL_SECONDS] = spent + time.monotonic() - t0

        tr.callbacks.append(clock)
    if trial_left is not None and (sweep_left is None or trial_left <= sweep_left):
        state = tr.fit()  # the trial's own time running out is its normal end
        if state.stopped and not state.stopped_by_budget:
            raise Stopped(f"stopped by a signal at step {state.step} of {run_dir} (saved)", 130)
    else:
        fit_or_interrupt(tr)
    g = tr.recipe.G.eval()
    names = list(tr.source.attr_names)
    rep = score_run(g, names, cfg.to_dict(), "emoji", args.root, "test", args.n_score, cls, False, device,
                    pairs=4 * args.n_score)
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # trials are re-trainable from params
    return rep


def retry_interrupted(study) -> list[dict]:
    """Trials a killed or stopped sweep left unfinished (RUNNING, or FAIL marked interrupted)
    are marked failed and their parameters queued again, once; they never count as done."""
    from optuna.trial import TrialState

    def key(params: dict) -> str:
        return json.dumps(params, sort_keys=True)

    taken = {key(t.params) for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.WAITING)}
    queued = []
    for t in study.trials:
        stale = t.state == TrialState.RUNNING
        if stale:
            study.tell(t.number, state=TrialState.FAIL)
        if (stale or (t.state == TrialState.FAIL and t.user_attrs.get("interrupted"))) and key(t.params) not in taken:
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
            taken.add(key(t.params))
            queued.append(t.params)
    return queued


def write_sweep_summary(study, args: argparse.Namespace, name: str, storage: str, out: Path) -> None:
    """Print every trial (score, best so far, parameters) and write OUT/sweep.json; each row has
    the trial's wall time (``seconds``) for best-score-vs-search-time curves."""
    rows, best = [], float("-inf")
    for t in study.trials:
        if t.value is not None:
            best = max(best, t.value)
        secs = t.duration.total_seconds() if t.duration is not None else None
        rows.append({"trial": t.number, "state": t.state.name.lower(), "params": t.params, "score": t.value,
                     "best_so_far": best, "seconds": secs, **t.user_attrs})
    print(f"{'trial':>5}  {'score':>8}  {'best':>8}  params")
    for r in rows:
        sc = ("interrupted" if r.get("interrupted") else r["state"]) if r["score"] is None else f"{r['score']:.4f}"
        print(f"{r['trial']:>5}  {sc:>8}  {r['best_so_far']:>8.4f}  "
              + ", ".join(f"{k}={v:.3g}" for k, v in r["params"].items()))
    complete = [t for t in study.trials if t.value is not None]
    top = max(complete, key=lambda t: t.value) if complete else None
    summary = {"method": args.method, "steps_per_trial": args.steps, "trial_time_s": args.trial_seconds,
               "study": name, "storage": storage, "trials": rows,
               "best": {"score": top.value, "params": top.params} if top else None}
    write_json_atomic(out / "sweep.json", summary)
    if top:
        print(f"best score {top.value:.4f} with {top.params}; {out / 'sweep.json'}")


def cmd_sweep(args: argparse.Namespace) -> int:
    try:
        import optuna
    except ModuleNotFoundError:
        raise GankitError("sweep needs Optuna: pip install 'gankit[sweep]' (or 'optuna>=3.4')") from None
    from gankit.config import parse_duration
    from gankit.editing.scoring import cheap_score
    from gankit.errors import Stopped
    from gankit.train.build import resolve_device
    from gankit.train.control import Deadline

    if args.trials < 1 or args.steps < 1:
        raise GankitError(f"sweep: --trials and --steps must be >= 1, got {args.trials}, {args.steps}")
    args.trial_seconds = parse_duration(args.trial_time, "--trial-time")  # 0: no per-trial bound
    if args.trial_time and args.trial_seconds <= 0:
        raise GankitError(f"sweep: --trial-time must be > 0, got {args.trial_time!r}")
    device = resolve_device(args.device)
    out = Path(args.out or f"runs/sweep-{args.method}")
    out.mkdir(parents=True, exist_ok=True)
    storage = args.storage or f"sqlite:///{(out / 'sweep.db').resolve()}"
    cls = _load_cls(args.classifier, device)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = f"{args.method}-steps{args.steps}"
    if args.trial_seconds:  # another trial budget is another study: never mixed into this one
        name += f"-t{args.trial_seconds:g}s"
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize",
                                load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=args.seed))
    # A continued study must not replay the same seeded draws (TPE's first trials are random):
    # offset the seed by the trials already stored, so each invocation explores new points.
    study.sampler = optuna.samplers.TPESampler(seed=args.seed + len(study.trials))

    retried = retry_interrupted(study)
    if retried:
        print(f"sweep: retrying {len(retried)} interrupted trial(s): {retried}")
    deadline = Deadline(args.max_time)  # the whole sweep's budget
    done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)

    def objective(trial) -> float:
        params = {k: trial.suggest_float(k, lo, hi, log=True) for k, (lo, hi) in SEARCH_SPACE[args.method].items()}
        try:
            rep = run_trial(args, params, out, cls, device, deadline.remaining(), name)
        except Stopped:
            trial.set_user_attr("interrupted", True)  # failed, retried by the next call, never counted
            raise
        for k in ("attr_accuracy", "l1"):
            if k in rep:
                trial.set_user_attr(k, rep[k])
        if "counterfactual" in rep:
            trial.set_user_attr("cf_l1", rep["counterfactual"]["l1"])
        return cheap_score(rep)

    try:
        if done >= args.trials:
            print(f"sweep: the study already has {done} complete trials (--trials {args.trials}); nothing to run")
        else:
            study.optimize(objective, n_trials=args.trials - done)
    finally:  # a stopped sweep (budget, signal) keeps its table too
        write_sweep_summary(study, args, name, storage, out)
    return 0
