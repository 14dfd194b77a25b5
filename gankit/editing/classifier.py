"""Train, evaluate, save and load the attribute classifier that scores edits.

The classifier is trained on the *real training split* of an attribute dataset and its own
accuracy is measured on the test split, so a reader can judge how far its verdict on edited
images can be trusted. A saved classifier is a folder holding ``classifier.safetensors``
(weights) and ``classifier.json`` (constructor config, attribute names, training settings,
test accuracy); loading runs no pickled code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor

from gankit.data.stream import decode_all
from gankit.data.transforms import to_float
from gankit.errors import CheckpointError, DataError
from gankit.io import atomic_path, write_json_atomic
from gankit.models.classifier import AttrClassifier

WEIGHTS, META = "classifier.safetensors", "classifier.json"


def load_arrays(source) -> tuple[Tensor, Tensor]:
    """A map-style attribute source -> (uint8 [N, C, R, R], float32 [N, A] 0/1) on the CPU."""
    if getattr(source, "target_kind", None) != "attributes":
        raise DataError(f"classifier: dataset must give attribute vectors, got target kind "
                        f"{getattr(source, 'target_kind', None)!r}")
    data, _ = decode_all(source, num_workers=0, desc="decoding")
    return data["x"], data["c"].float()


@torch.no_grad()
def predict(model: AttrClassifier, x: Tensor, batch: int = 256) -> Tensor:
    """Probabilities [N, A] in [0, 1] for float images x [N, C, R, R] in [-1, 1] (any device)."""
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    outs = [torch.sigmoid(model(x[i:i + batch].to(dev))).cpu() for i in range(0, len(x), batch)]
    model.train(was)
    return torch.cat(outs)


def accuracy_report(prob: Tensor, target: Tensor, names: list[str]) -> dict:
    """Per-attribute accuracy and balanced accuracy (mean of TPR and TNR) of probs vs 0/1 targets.

    prob, target: [N, A]. Balanced accuracy is reported because most attributes are rare.
    """
    pred = (prob > 0.5).float()
    per = {}
    for k, n in enumerate(names):
        t, p = target[:, k], pred[:, k]
        pos, neg = t == 1, t == 0
        rates = [float((p[m] == t[m]).float().mean()) for m in (pos, neg) if m.any()]
        per[n] = {"accuracy": float((p == t).float().mean()), "balanced": sum(rates) / max(len(rates), 1),
                  "positives": int(pos.sum())}
    return {"accuracy": float((pred == target).float().mean()),
            "balanced_accuracy": sum(v["balanced"] for v in per.values()) / len(per),
            "n": int(target.shape[0]), "per_attribute": per}


def train_classifier(train_source, test_source=None, steps: int = 1500, batch: int = 64, lr: float = 1e-3,
                     width: int = 32, device: str | torch.device = "cpu", seed: int = 0,
                     log=None) -> tuple[AttrClassifier, dict]:
    """Train an :class:`AttrClassifier` with BCE (Adam, random h-flips) on ``train_source``.

    Returns (model in eval mode, report) where report holds the settings, the training
    accuracy and, with ``test_source``, the test accuracy (see :func:`accuracy_report`).
    """
    names = list(train_source.attr_names)
    x, c = load_arrays(train_source)
    res = x.shape[-1]
    n_layers = max(1, min(4, (res & -res).bit_length() - 3))  # stop at >= 4 px
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = AttrClassifier(res, x.shape[1], len(names), width=width, n_layers=n_layers).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        idx = torch.randint(0, len(x), (min(batch, len(x)),), generator=g)
        xb = to_float(x[idx])
        flip = torch.rand(len(idx), generator=g) < 0.5
        xb[flip] = xb[flip].flip(-1)
        loss = F.binary_cross_entropy_with_logits(model(xb.to(device)), c[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log is not None and (step + 1) % max(1, steps // 10) == 0:
            log(f"classifier step {step + 1}/{steps}: bce {loss.item():.4f}")
    model.eval()
    model.gankit_names = names
    report = {"attr_names": names, "steps": steps, "batch": batch, "lr": lr, "seed": seed,
              "train": accuracy_report(predict(model, to_float(x)), c, names)}
    if test_source is not None:
        xt, ct = load_arrays(test_source)
        if list(test_source.attr_names) != names:
            raise DataError(f"classifier: test attributes {test_source.attr_names} differ from train {names}")
        report["test"] = accuracy_report(predict(model, to_float(xt)), ct, names)
    return model, report


def save_classifier(model: AttrClassifier, out_dir: str | os.PathLike, report: dict) -> Path:
    """Write ``classifier.safetensors`` + ``classifier.json`` into ``out_dir``; returns the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(sd, str(tmp))
    write_json_atomic(out / META, {"config": model.config, **report})
    return out


def load_classifier(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[AttrClassifier, dict]:
    """Rebuild a saved classifier: (model in eval mode on ``device``, its JSON metadata)."""
    root = Path(path)
    if not (root / WEIGHTS).is_file() or not (root / META).is_file():
        raise CheckpointError(f"'{root}' is not a classifier folder (expected {WEIGHTS} and {META}; "
                              f"make one with 'gankit classifier train')")
    try:
        meta = json.loads((root / META).read_text())
        model = AttrClassifier(**meta["config"])
        model.load_state_dict(load_file(str(root / WEIGHTS)))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{root / META}: unreadable classifier ({type(e).__name__}: {str(e).splitlines()[0][:160]})") from None
    model.gankit_names = list(meta.get("attr_names", []))
    return model.to(device).eval().requires_grad_(False), meta
