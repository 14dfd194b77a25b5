"""The written generator contract: four kinds, each a checked protocol.

Every registered generator class states its kind in a class attribute ``kind``; code that
needs a kind asks :func:`require_kind` (or :func:`kind_of`) instead of probing attributes.
The check is structural too, so a class that claims a kind but lacks a member fails loudly.

=============== ========================================================================
kind            contract
=============== ========================================================================
noise           ``z_dim: int``, ``n_classes: int`` (0); ``G(z [N, z_dim], c=None)`` ->
                images [N, C, R, R] in [-1, 1]
conditional     a noise generator built with ``n_classes > 0``; ``c`` is class labels
                long [N] (an instance property: the same class serves both)
image_to_image  ``c_dim: int`` (0 = unconditional translation); ``G(x, c, parts=False)``
                -> images like x in [-1, 1]
style           a noise generator with ``mapping(z, c) -> ws [N, num_ws, w_dim]``,
                ``synthesis(ws, noise_mode, generator)``, ``w_dim``, ``num_ws``
=============== ========================================================================

Anchored on torch-fidelity's ``GenerativeModelBase`` (z size and class count as declared
properties); no hasattr probes elsewhere in gankit.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import nn

from gankit.errors import ConfigError

KINDS = ("noise", "conditional", "image_to_image", "style")


@runtime_checkable
class NoiseGenerator(Protocol):
    z_dim: int
    n_classes: int

    def __call__(self, z, c=None): ...


@runtime_checkable
class ImageToImageGenerator(Protocol):
    c_dim: int

    def __call__(self, x, c=None, parts: bool = False): ...


@runtime_checkable
class StyleGenerator(NoiseGenerator, Protocol):
    w_dim: int
    num_ws: int

    def mapping(self, z, c=None, **kw): ...

    def synthesis(self, ws, noise_mode="const", generator=None): ...


_PROTOCOL = {"noise": NoiseGenerator, "image_to_image": ImageToImageGenerator, "style": StyleGenerator}


def declared_kind(obj: nn.Module | type) -> str | None:
    """The ``kind`` a generator class (or instance) declares, or None."""
    k = getattr(obj, "kind", None)
    return k if k in _PROTOCOL else None


def kind_of(net: nn.Module) -> str:
    """The kind of a built generator: its declared kind, checked against the protocol.

    A noise (or style) generator built with classes reports 'conditional' only when asked for
    exactly that via :func:`is_kind`; here the declared kind is returned.
    """
    k = declared_kind(net)
    if k is None:
        raise ConfigError(f"generator {type(net).__name__} declares no kind (one of {', '.join(_PROTOCOL)})")
    if not isinstance(net, _PROTOCOL[k]):
        raise ConfigError(f"generator {type(net).__name__} declares kind '{k}' but does not implement it")
    return k


def is_kind(net: nn.Module, kind: str) -> bool:
    """Does ``net`` satisfy ``kind``? A style generator is also a noise generator; a noise or
    style generator with ``n_classes > 0`` is also conditional."""
    k = declared_kind(net)
    if k is None or not isinstance(net, _PROTOCOL[k]):
        return False
    if kind == k:
        return True
    if kind == "noise":
        return k == "style"
    if kind == "conditional":
        return k in ("noise", "style") and int(net.n_classes) > 0
    return False


def require_kind(obj: nn.Module | type, kinds: tuple[str, ...], where: str) -> str:
    """Check a generator class or instance against accepted ``kinds``; return its kind.

    ``where`` names the config key (e.g. ``model.generator 'stargan'``) for the one-line error.
    """
    k = declared_kind(obj)
    ok = k in kinds or (k == "style" and "noise" in kinds)
    if not ok:
        what = {"image_to_image": "an image-to-image", "noise": "a noise", "style": "a style"}.get(k, "not a")
        raise ConfigError(f"{where} is {what} generator, but this recipe needs one of kind {' or '.join(kinds)}")
    if isinstance(obj, nn.Module):
        kind_of(obj)
    return k


def sample_noise(g: nn.Module, n: int, rng, device=None):
    """``n`` images of a noise (or style) generator: z ~ N(0, I) [n, z_dim] from the CPU
    generator ``rng``, then uniform class labels [n] when it is conditional; both moved to
    ``device`` (default: the generator's). The one definition of "sample a noise generator"
    (metrics, sample grids, ``gankit sample``)."""
    import torch

    if device is None:
        device = next(g.parameters()).device
    z = torch.randn(n, int(g.z_dim), generator=rng).to(device)
    nc = int(getattr(g, "n_classes", 0) or 0)
    c = torch.randint(0, nc, (n,), generator=rng).to(device) if nc > 0 else None
    return generate(g, z, c, rng)


def generate(g: nn.Module, z, c=None, rng=None):
    """``g(z, c)`` with every further random number (a style generator's per-layer noise)
    drawn from ``rng`` too, so a seed fixes the images whatever the device."""
    if declared_kind(g) == "style":
        return g(z, c, generator=rng)
    return g(z, c)
