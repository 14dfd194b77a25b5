"""DCGAN-style latent vector arithmetic (Radford et al. 2016, seed 004 figure 3).

Each concept ("smiling woman", "neutral woman", "neutral man") is the MEAN of a few latent
vectors (three in the paper: single samples are unstable), and the result of ``A - B + C`` is
``mean(A) - mean(B) + mean(C)``. It works in Z for any generator (latent files with ``z``) and
in W for style generators (files with ``ws``).

Concept files are named by concept: ``DIR/<name>.safetensors|.npz`` holding stacked vectors
[K, ...], or a folder ``DIR/<name>/`` of single-latent files stacked in name order.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import Tensor

from gankit.errors import GankitError

KEYS = ("z", "ws", "w")


def parse_expression(expr: str) -> list[tuple[int, str]]:
    """"A - B + C" -> [(1, "A"), (-1, "B"), (1, "C")]. Tokens are separated by spaces (so
    names may contain '-'); a leading "-" or "+" token is allowed."""
    tokens = expr.split()
    sign, terms, expect_name = 1, [], True
    for tok in tokens:
        if expect_name and tok in ("+", "-") and not terms and sign == 1:
            sign = -1 if tok == "-" else 1
            continue
        if expect_name:
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", tok) or tok in ("+", "-"):
                raise GankitError(f"--arith {expr!r}: bad concept name {tok!r} (letters, digits, _ . -)")
            terms.append((sign, tok))
        elif tok in ("+", "-"):
            sign = -1 if tok == "-" else 1
        else:
            raise GankitError(f"--arith {expr!r}: expected + or - before {tok!r} (put spaces around operators)")
        expect_name = not expect_name
    if not terms or expect_name:
        raise GankitError(f"--arith {expr!r}: expected NAME [+|- NAME ...], e.g. \"smiling_woman - neutral_woman + neutral_man\"")
    return terms


def concept_mean(vectors: Tensor) -> Tensor:
    """[K, ...] -> [...]: the concept's representative (mean of its K vectors)."""
    if vectors.dim() < 2 or len(vectors) == 0:
        raise GankitError(f"a concept needs stacked vectors [K, ...], got shape {tuple(vectors.shape)}")
    return vectors.double().mean(0).to(vectors.dtype)


def evaluate(terms: list[tuple[int, str]] | str, concepts: dict[str, Tensor]) -> Tensor:
    """Sum of sign * concept_mean(concepts[name]) over the terms; all concepts same shape."""
    if isinstance(terms, str):
        terms = parse_expression(terms)
    out = None
    for sign, name in terms:
        if name not in concepts:
            raise GankitError(f"concept {name!r} not found (have: {', '.join(sorted(concepts)) or 'none'})")
        m = concept_mean(concepts[name])
        if out is not None and m.shape != out.shape:
            raise GankitError(f"concept {name!r} has vectors of shape {tuple(m.shape)}, others {tuple(out.shape)}")
        out = sign * m if out is None else out + sign * m
    return out


def _latent_key(t: dict[str, Tensor], where: Path) -> str:
    for k in KEYS:
        if k in t:
            return k
    raise GankitError(f"{where}: latent file has none of the keys {', '.join(KEYS)}")


def load_concept(root: str | Path, name: str) -> tuple[str, Tensor]:
    """Find concept ``name`` under ``root`` -> (space key "z" | "ws" | "w", vectors [K, ...])."""
    from gankit.editing.media import LATENT_SUFFIXES, load_latent

    root = Path(root)
    for suf in LATENT_SUFFIXES:
        f = root / f"{name}{suf}"
        if f.is_file():
            t = load_latent(f)
            key = _latent_key(t, f)
            v = t[key]
            # a single latent ([z_dim] or [num_ws, w_dim]) is a concept of one vector
            return key, v.unsqueeze(0) if (key == "z" and v.dim() == 1) or (key != "z" and v.dim() == 2) else v
    folder = root / name
    files = sorted(p for p in folder.iterdir() if p.suffix in LATENT_SUFFIXES) if folder.is_dir() else []
    if not files:
        raise GankitError(f"concept {name!r}: expected {root}/{name}.safetensors|.npz or a folder {root}/{name}/ of latent files")
    keys, vecs = set(), []
    for f in files:
        t = load_latent(f)
        k = _latent_key(t, f)
        keys.add(k)
        vecs.append(t[k])
    if len(keys) > 1:
        raise GankitError(f"{folder}: mixes latent kinds {sorted(keys)}")
    return keys.pop(), torch.stack(vecs)


def load_concepts(root: str | Path, names) -> tuple[str, dict[str, Tensor]]:
    """Load every named concept; they must share one latent kind. -> (key, {name: [K, ...]})."""
    loaded = {n: load_concept(root, n) for n in dict.fromkeys(names)}
    kinds = {k for k, _ in loaded.values()}
    if len(kinds) > 1:
        raise GankitError(f"--arith concepts mix latent kinds {sorted(kinds)}: use all z or all ws")
    return kinds.pop(), {n: v for n, (_, v) in loaded.items()}


__all__ = ["parse_expression", "concept_mean", "evaluate", "load_concept", "load_concepts"]
