"""A small Fashion-MNIST classifier that labels the channels of stacked images (mode counting).

The network is :class:`~gankit.models.classifier.AttrClassifier` with 10 outputs read as
softmax logits, trained with cross-entropy on the real training split (Adam, one-cycle
learning rate) and measured on the test split: overall and per-class accuracy are saved
with the weights, because every mode count made with it inherits its errors (the shirt
class is often confused with T-shirt, pullover and coat). A saved classifier is a folder
with ``classifier.safetensors`` and ``classifier.json`` (constructor config, training
settings, a fingerprint of the data, accuracies); loading runs no pickled code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from gankit.data.transforms import to_float
from gankit.errors import CheckpointError
from gankit.io import atomic_path, write_json_atomic
from gankit.models.classifier import AttrClassifier

WEIGHTS, META = "classifier.safetensors", "classifier.json"


def fingerprint(images: Tensor, labels: Tensor) -> str:
    """A short hash of the training images and labels (tells data sets apart)."""
    h = hashlib.sha1(str(tuple(images.shape)).encode())
    h.update(images[:: max(1, len(images) // 512)].contiguous().numpy().tobytes())
    h.update(labels.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def predict(model: torch.nn.Module, images: Tensor, batch: int = 500) -> Tensor:
    """Class indices long [N] of uint8 images [N, 1, R, R]."""
    was = model.training
    model.eval()
    out = torch.cat([model(to_float(images[i:i + batch])).argmax(1) for i in range(0, len(images), batch)])
    model.train(was)
    return out


def accuracy(pred: Tensor, labels: Tensor, n_classes: int = 10) -> dict:
    """{"accuracy": overall, "per_class": [accuracy of each true class]} (NaN for an absent class)."""
    per = [float((pred[labels == k] == k).float().mean()) if (labels == k).any() else float("nan")
           for k in range(n_classes)]
    return {"accuracy": float((pred == labels).float().mean()), "per_class": per, "n": int(len(labels))}


def train_label_classifier(train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor], steps: int = 2000,
                           batch: int = 128, lr: float = 2e-3, width: int = 16, seed: int = 0,
                           log: Callable[[str], None] | None = None) -> tuple[AttrClassifier, dict]:
    """Train on (uint8 images [N, 1, R, R], labels long [N]) and measure on ``test``.

    R must be divisible by 8 (three down-sampling blocks). Returns (model in eval mode, report
    with the settings, the data fingerprint and the test accuracies)."""
    x, y = train
    res = x.shape[-1]
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = AttrClassifier(res, 1, 10, width=width, n_layers=3)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    model.train()
    for step in range(steps):
        idx = torch.randint(0, len(x), (min(batch, len(x)),), generator=g)
        loss = F.cross_entropy(model(to_float(x[idx])), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log is not None and (step + 1) % max(1, steps // 5) == 0:
            log(f"classifier step {step + 1}/{steps}: cross-entropy {loss.item():.3f}")
    model.eval()
    report = {"settings": {"steps": steps, "batch": batch, "lr": lr, "width": width, "seed": seed},
              "data": fingerprint(x, y), "test": accuracy(predict(model, test[0]), test[1])}
    return model, report


def save_label_classifier(model: AttrClassifier, out_dir: Path, report: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / WEIGHTS) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    write_json_atomic(out_dir / META, {"config": model.config, **report}, indent=1)  # last: marks it complete


def load_label_classifier(out_dir: Path) -> tuple[AttrClassifier, dict] | None:
    """(model, report) of a classifier saved in ``out_dir``, or None when there is none."""
    if not (out_dir / META).is_file() or not (out_dir / WEIGHTS).is_file():
        return None
    try:
        meta = json.loads((out_dir / META).read_text())
        model = AttrClassifier(**meta["config"])
        model.load_state_dict(load_file(str(out_dir / WEIGHTS)))
    except (OSError, KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as e:
        raise CheckpointError(f"{out_dir}: unreadable classifier ({type(e).__name__}); delete the folder to "
                              "train it again") from None
    return model.eval().requires_grad_(False), meta
