"""Batches with named fields, and the field kinds (modalities) that sources declare.

A source declares its fields as ``((name, kind), ...)`` in the order of the tuple its
``__getitem__`` returns, e.g. ``(("x", "image"), ("y", "image"))`` for a paired
image-to-image set or ``(("x", "image"), ("c", "label"))`` for a labelled one. The kind says
how items of that field are stacked, moved to the model's value range and augmented:

========== ====================================== ====================== ===========
kind       item                                   in the batch            hflip
========== ====================================== ====================== ===========
image      uint8 [C, H, W]                        float [N, C, H, W] in   yes
                                                  [-1, 1]
mask       uint8 [1, H, W] (0 / 255)              float [N, 1, H, W] in   yes
                                                  [0, 1]
label      int                                    long [N]                no
attributes float [A] (0/1)                        float [N, A]            no
text       str                                    list[str] of length N   no
tensor     float tensor of a fixed shape          float [N, ...]          no
========== ====================================== ====================== ===========

Everything image-specific (uint8 -> [-1, 1], flips) lives in these kinds, so the stream and
the trainer stay modality-neutral: a piano-roll modality is one more kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
from torch import Tensor

from gankit.data.transforms import to_float
from gankit.errors import DataError
from gankit.registry import Registry


@dataclass(frozen=True)
class FieldKind:
    """How one kind of field is collated (CPU), converted for the model (device) and flipped.

    collate(items) -> Tensor | list; to_model(stored) -> what recipes see; spatial: a
    horizontal flip of the batch applies to this field (images and masks flip together).
    """

    name: str
    collate: Callable[[list], Any]
    to_model: Callable[[Any], Any]
    spatial: bool = False


def _stack_uint8(items: list) -> Tensor:
    return torch.stack([torch.as_tensor(t) for t in items])


def _mask_to_model(m: Tensor) -> Tensor:
    return m.float().div_(255.0)


FIELD_KINDS: Registry[FieldKind] = Registry("field kind")
for _kind in (
    FieldKind("image", _stack_uint8, to_float, spatial=True),
    FieldKind("mask", _stack_uint8, _mask_to_model, spatial=True),
    FieldKind("label", lambda items: torch.tensor([int(t) for t in items], dtype=torch.long), lambda t: t),
    FieldKind("attributes", lambda items: torch.stack([torch.as_tensor(t, dtype=torch.float32) for t in items]), lambda t: t),
    FieldKind("text", lambda items: [str(t) for t in items], lambda t: t),
    FieldKind("tensor", lambda items: torch.stack([torch.as_tensor(t, dtype=torch.float32) for t in items]), lambda t: t),
):
    FIELD_KINDS.register(_kind.name)(_kind)

Fields = tuple[tuple[str | None, str | None], ...]


def source_fields(source) -> Fields:
    """The ``((name, kind), ...)`` a source's items carry, in tuple order.

    Sources may declare ``fields``; the classic image sources (items ``(image, target)``) are
    described by their ``target_kind``: ``class`` -> a ``c`` label, ``attributes`` -> a ``c``
    attribute vector, ``none`` -> the target slot is ignored (name None).
    """
    declared = getattr(source, "fields", None)
    if declared is not None:
        fields = tuple((n, k) for n, k in declared)
        for n, k in fields:
            if n is not None:
                FIELD_KINDS.get(k)  # unknown kinds fail here, with the list of kinds
        if not fields or fields[0][1] is None:
            raise DataError(f"{type(source).__name__}: the first declared field must be a data field, got {fields!r}")
        return fields
    kind = {"class": "label", "attributes": "attributes"}.get(getattr(source, "target_kind", "none"))
    return (("x", "image"), ("c", kind) if kind else (None, None))


class Batch:
    """One training batch: named fields on the training device.

    ``batch.x`` is the main input (images float [N, C, H, W] in [-1, 1] for image sources);
    ``batch.c`` conditioning (class labels long [N] or attributes float [N, A]); ``batch.y``
    a paired target; ``batch.mask``; ``batch.text``. A field the source does not have reads
    as None. ``Batch(x, c)`` keeps the two-field form short.
    """

    __slots__ = ("_f",)

    def __init__(self, x: Any = None, c: Any = None, **fields: Any):
        f = {"x": x, "c": c, **fields}
        object.__setattr__(self, "_f", {k: v for k, v in f.items() if v is not None})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._f.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Batch is immutable; use batch.replace(name=value)")

    def __getitem__(self, name: str) -> Any:
        return self._f[name]

    def __contains__(self, name: str) -> bool:
        return name in self._f

    def keys(self) -> list[str]:
        return list(self._f)

    def items(self) -> Iterator[tuple[str, Any]]:
        return iter(self._f.items())

    def replace(self, **fields: Any) -> "Batch":
        return Batch(**{**self._f, **fields})

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(**{k: v.to(device, non_blocking=True) if isinstance(v, Tensor) else v for k, v in self._f.items()})

    def __len__(self) -> int:
        v = next(iter(self._f.values()))
        return v.shape[0] if isinstance(v, Tensor) else len(v)

    def __repr__(self) -> str:
        desc = ", ".join(f"{k}={tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__}" for k, v in self._f.items())
        return f"Batch({desc})"
