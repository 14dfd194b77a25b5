"""Network registries and the spec that lets a checkpoint rebuild a network.

Conventions every registered network follows:

* Generators declare ``kind`` (see :mod:`gankit.models.contracts`). Noise generators:
  ``cls(resolution: int, channels: int, z_dim: int, n_classes: int = 0, **typed)``;
  ``forward(z [N, z_dim], c [N] long or None) -> [N, channels, resolution, resolution]`` in
  [-1, 1]; attributes ``z_dim`` and ``n_classes``.
* Discriminators: ``cls(resolution: int, channels: int, n_classes: int = 0, **typed)``;
  ``forward(x [N, C, H, W], c=None) -> logits [N]``.

The typed keyword arguments are the network's config: ``build_net`` validates the user's keys
against the constructor's signature (unknown key -> one-line error with the closest name) and
stores ``{"name", "kwargs"}`` on the module as ``gankit_spec`` so a checkpoint can rebuild it
without pickling code.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from typing import Any

from torch import nn

from gankit.errors import ConfigError
from gankit.registry import Registry, did_you_mean

GENERATORS: Registry[type[nn.Module]] = Registry("generator")
DISCRIMINATORS: Registry[type[nn.Module]] = Registry("discriminator")


def check_min(low: int | float, **values: int | float) -> None:
    """Constructor argument check: ``ValueError("width must be >= 1, got 0")`` for the first
    value below ``low`` (``build_net`` turns it into a one-line ConfigError naming the section)."""
    for name, value in values.items():
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")


def _check_type(where: str, key: str, value: Any, annotation: Any) -> Any:
    """Coerce int -> float where a float is wanted; reject other mismatches with one line."""
    if isinstance(annotation, str):
        return value  # unresolved forward reference: leave it to the constructor
    args = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else (annotation,)
    allowed = tuple(typing.get_origin(a) or a for a in args if isinstance(typing.get_origin(a) or a, type))
    if not allowed or (value is None and type(None) in allowed):
        return value
    if float in allowed and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and bool not in allowed:
        pass  # True is an int to Python, not to a config
    elif isinstance(value, allowed):
        return value
    names = "|".join(a.__name__ for a in allowed)
    raise ConfigError(f"{where}.{key}: expected {names}, got {type(value).__name__} {value!r}")


def validate_kwargs(where: str, cls: type, kwargs: dict[str, Any], injected: set[str]) -> dict[str, Any]:
    """Check user kwargs against ``cls.__init__``; return them with types coerced."""
    sig = inspect.signature(cls.__init__)
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # pragma: no cover - unusual annotations
        hints = {}
    params = {k: p for k, p in sig.parameters.items() if k != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    valid = sorted(k for k in params if k not in injected)
    out = {}
    for key, value in kwargs.items():
        if key not in params or key in injected:
            raise ConfigError(f"{where}.{key}: unknown key{did_you_mean(key, valid)}; valid keys: {', '.join(valid)}")
        out[key] = _check_type(where, key, value, hints.get(key, Any)) if key in hints else value
    return out


def build_net(registry: Registry, where: str, spec: dict[str, Any], **injected: Any) -> nn.Module:
    """Build ``registry[spec['name']]`` with the spec's kwargs plus injected shape arguments.

    ``where`` names the config section (e.g. ``model.generator``) for error messages.
    """
    if "name" not in spec:
        raise ConfigError(f"{where}: missing key 'name'; choose one of: {', '.join(registry.keys())}")
    name = spec["name"]
    cls = registry.get(name)
    kwargs = validate_kwargs(where, cls, {k: v for k, v in spec.items() if k != "name"}, set(injected))
    try:
        net = cls(**injected, **kwargs)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{where} ({name}): {e}") from None
    except RuntimeError as e:  # sizes so large that one weight does not fit in memory
        if "allocate" not in str(e) and "out of memory" not in str(e):
            raise
        m = re.search(r"allocate (\d+) bytes", str(e))
        need = f" (one weight alone needs {int(m.group(1)) / 2**30:,.1f} GiB)" if m else ""
        raise ConfigError(f"{where} ({name}): its weights do not fit in memory{need}; "
                          f"lower its width or depth ({', '.join(f'{k}={v}' for k, v in kwargs.items()) or 'defaults'})") from None
    net.gankit_spec = {"name": name, "kwargs": {**injected, **kwargs}}
    return net


def rebuild_net(registry: Registry, spec: dict[str, Any]) -> nn.Module:
    """Rebuild a network from a stored ``gankit_spec`` (as written into checkpoints)."""
    cls = registry.get(spec["name"])
    net = cls(**spec["kwargs"])
    net.gankit_spec = {"name": spec["name"], "kwargs": dict(spec["kwargs"])}
    return net
