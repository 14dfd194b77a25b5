"""Attribute editing with a trained StarGAN / ACL-GAN generator: load, parse, translate, grids.

A generator ``G(x [N, C, R, R] in [-1, 1], c [N, A] float 0/1)`` edits images towards the
*full* target attribute vector ``c``. To change one attribute of an image we therefore need
its current attributes: they come from the dataset's table when the image belongs to an
attribute dataset (``attributes.csv`` in a parent folder, as emoji builds have), else from an
attribute classifier when one is given, else all 0 (stated in the output).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.data.attributes import load_rgb, read_text_file
from gankit.data.images import IMAGE_EXTS, is_image_file
from gankit.data.transforms import to_float
from gankit.errors import DataError, GankitError
from gankit.models.stargan import attribute_grid, single_flips

__all__ = ["parse_sets", "read_images", "lookup_attributes", "translate",
           "attribute_grid", "single_flips", "edit_grid"]


def parse_sets(sets: list[str], names: list[str]) -> dict[int, float]:
    """['Blond_Hair=1', 'Male=0'] -> {index: value}; unknown names and values other than 0/1 raise."""
    from gankit.registry import did_you_mean

    out: dict[int, float] = {}
    for s in sets:
        name, sep, val = s.partition("=")
        if not sep or val.strip() not in ("0", "1"):
            raise GankitError(f"--set '{s}': expected NAME=0 or NAME=1")
        if name not in names:
            raise GankitError(f"--set '{s}': unknown attribute '{name}'{did_you_mean(name, names)}; "
                              f"this model edits {', '.join(names)}")
        out[names.index(name)] = float(val)
    return out


def list_images(spec: list[str], option: str = "--images") -> list[Path]:
    """Files and folders (their images, sorted, not recursive) -> image paths; errors when empty
    (naming ``option``, the command-line option the paths came from)."""
    files: list[Path] = []
    for s in spec:
        p = Path(s)
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if is_image_file(f))
        elif p.is_file():
            files.append(p)
        else:
            raise DataError(f"{option}: '{p}' does not exist")
    if not files:
        raise DataError(f"{option} {' '.join(spec)}: no images found ({', '.join(IMAGE_EXTS)})")
    return files


def read_images(paths: list[Path], resolution: int) -> Tensor:
    """Decode and centre-crop/resize to float [N, 3, R, R] in [-1, 1]."""
    return to_float(torch.stack([load_rgb(Path(p), resolution, None) for p in paths]))


def lookup_attributes(path: Path, names: list[str]) -> Tensor | None:
    """The image's row of ``attributes.csv`` in a parent folder (emoji/CSV layouts), or None."""
    path = Path(path).resolve()
    for root in list(path.parents)[:3]:
        table = root / "attributes.csv"
        if not table.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        for row in csv.DictReader(io.StringIO(read_text_file(table, "attribute table"), newline="")):
            if row.get("file") == rel:
                if not all(n in row for n in names):
                    return None
                return torch.tensor([max(float(row[n]), 0.0) for n in names])
    return None


def source_attributes(paths: list[Path], names: list[str], x: Tensor, classifier=None) -> tuple[Tensor, list[str]]:
    """Current attributes [N, A] of each image and where each row came from ('table'|'classifier'|'zeros')."""
    rows, origin = [], []
    probs = None
    if classifier is not None:
        from gankit.editing.classifier import predict
        cls_names = classifier.gankit_names
        probs = predict(classifier, x)
        probs = probs[:, [cls_names.index(n) for n in names]] if all(n in cls_names for n in names) else None
    for i, p in enumerate(paths):
        row = lookup_attributes(p, names)
        if row is not None:
            rows.append(row)
            origin.append("table")
        elif probs is not None:
            rows.append((probs[i] > 0.5).float())
            origin.append("classifier")
        else:
            rows.append(torch.zeros(len(names)))
            origin.append("zeros")
    return torch.stack(rows), origin


@torch.no_grad()
def translate(g: nn.Module, x: Tensor, c_src: Tensor, changes: dict[int, float]):
    """Edit x [N, C, R, R] in [-1, 1]: target = c_src [N, A] with ``changes`` {index: 0/1} applied.

    Returns (EditOut(image, mask, segment), target [N, A]).
    """
    dev = next(g.parameters()).device
    c = c_src.clone().float()
    for k, v in changes.items():
        c[:, k] = v
    return g(x.to(dev), c.to(dev), parts=True), c


@torch.no_grad()
def edit_grid(g: nn.Module, x: Tensor, c_src: Tensor, batch: int = 16, groups=()) -> tuple[Tensor, int]:
    """:func:`attribute_grid` in batches on G's device; images on the CPU [N*K, C, R, R].
    ``groups``: mutually exclusive attributes (adding one clears the others)."""
    dev = next(g.parameters()).device
    outs, nrow = [], 1
    for i in range(0, len(x), batch):
        imgs, nrow = attribute_grid(g, x[i:i + batch].to(dev), c_src[i:i + batch].to(dev), groups)
        outs.append(imgs.float().cpu())
    return torch.cat(outs), nrow
