"""Files written and read by editing: image grids, GIF/MP4 animations, latent files.

Latent files (safetensors, or npz with the same keys): ``ws`` [num_ws, w_dim] or
[K, num_ws, w_dim] (W/W+ latents), or ``z`` [z_dim] / [K, z_dim] (input latents), plus the
projection's noise maps ``noise.0``, ``noise.1``, ... ([1, 1, r, r]) when present.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from gankit.errors import GankitError
from gankit.io import atomic_path, atomic_write, write_json_atomic

LATENT_SUFFIXES = (".safetensors", ".npz")


def to_uint8(images: Tensor) -> np.ndarray:
    """float [N, C, H, W] in [-1, 1] (clamped) -> uint8 [N, H, W, 3] (gray repeated)."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    x = x.permute(0, 2, 3, 1).numpy()
    return np.repeat(x, 3, axis=3) if x.shape[3] == 1 else x


def image_grid(images: Tensor | np.ndarray, nrow: int, pad: int = 2, fill: int = 255) -> np.ndarray:
    """images float [N, C, H, W] in [-1, 1] or uint8 [N, H, W, 3] -> uint8 [H', W', 3]
    laid out row-major with ``nrow`` images per row and ``pad`` pixels of ``fill`` between."""
    arr = to_uint8(images) if isinstance(images, Tensor) else np.asarray(images)
    n, h, w, c = arr.shape
    nrow = max(1, min(nrow, n))
    rows = (n + nrow - 1) // nrow
    grid = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), fill, dtype=np.uint8)
    for i in range(n):
        r, k = divmod(i, nrow)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + k * (w + pad): pad + k * (w + pad) + w] = arr[i]
    return grid


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """uint8 [H, W, 3] -> PNG file (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image)).save(path)
    return path


def has_ffmpeg() -> bool:
    """True when imageio can write MP4 (the ``imageio-ffmpeg`` package is installed)."""
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def write_animation(path: str | Path, frames: list[np.ndarray], fps: float = 10.0, loop: bool = True) -> Path:
    """Write uint8 [H, W, 3] frames as ``.gif`` (Pillow; identical consecutive frames are merged
    with their durations summed) or ``.mp4``
    (imageio + imageio-ffmpeg, H.264). Without imageio-ffmpeg an ``.mp4`` request falls back to
    a GIF next to it, with a warning. Returns the path written."""
    path = Path(path)
    if not frames:
        raise GankitError(f"{path}: no frames to write")
    if path.suffix.lower() not in (".gif", ".mp4"):
        raise GankitError(f"{path}: animation must end in .gif or .mp4")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".mp4":
        if has_ffmpeg():
            return _write_mp4(path, frames, fps)
        gif = path.with_suffix(".gif")
        warnings.warn(f"{path}: MP4 needs the imageio-ffmpeg package (pip install imageio-ffmpeg); wrote {gif} instead",
                      stacklevel=2)
        path = gif
    imgs = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    # Pillow merges IDENTICAL consecutive frames into one with the summed duration (same
    # playback); distinct frames are all kept, so an alpha sweep keeps its frame count.
    extra = {"loop": 0} if loop else {}  # no loop key: play once
    imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=int(round(1000 / fps)), optimize=False, **extra)
    return path


def _write_mp4(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    import imageio.v2 as imageio

    h, w = frames[0].shape[:2]
    # yuv420p needs even sizes: pad by edge replication instead of letting ffmpeg rescale.
    ph, pw = h % 2, w % 2
    with imageio.get_writer(path, fps=fps, codec="libx264", macro_block_size=1, quality=8,
                            ffmpeg_log_level="error", pixelformat="yuv420p") as wr:
        for f in frames:
            wr.append_data(np.pad(f, ((0, ph), (0, pw), (0, 0)), mode="edge") if ph or pw else f)
    return path


def read_frames(path: str | Path) -> list[np.ndarray]:
    """All frames of a GIF/MP4 as uint8 [H, W, 3] (for tests and checks)."""
    import imageio.v3 as iio

    return [np.asarray(f)[..., :3] for f in iio.imiter(path)]


def save_latent(path: str | Path, tensors: dict[str, Tensor], meta: dict[str, str] | None = None) -> Path:
    """Write a latent file (``.safetensors`` or ``.npz``, by suffix); see the module doc for keys."""
    path = Path(path)
    flat = {k: v.detach().float().cpu().contiguous() for k, v in tensors.items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        with atomic_path(path) as tmp:
            save_file(flat, str(tmp), metadata={k: str(v) for k, v in (meta or {}).items()})
    elif path.suffix == ".npz":
        with atomic_write(path) as f:
            np.savez(f, **{k: v.numpy() for k, v in flat.items()})
    else:
        raise GankitError(f"{path}: latent files end in .safetensors or .npz")
    return path


def load_latent(path: str | Path) -> dict[str, Tensor]:
    """Read a latent file -> {key: float32 tensor}; one-line GankitError when unreadable."""
    path = Path(path)
    if not path.is_file():
        raise GankitError(f"{path}: latent file does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            out = load_file(str(path))
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                out = {k: torch.from_numpy(f[k]) for k in f.files}
        else:
            raise GankitError(f"{path}: latent files end in .safetensors or .npz")
    except GankitError:
        raise
    except Exception as e:
        raise GankitError(f"{path}: unreadable latent file ({type(e).__name__})") from None
    return {k: v.float() for k, v in out.items()}


def latent_noises(tensors: dict[str, Tensor]) -> list[Tensor]:
    """The ``noise.i`` maps of a latent file in layer order (empty when absent)."""
    keys = sorted((k for k in tensors if k.startswith("noise.")), key=lambda k: int(k.split(".")[1]))
    return [tensors[k] for k in keys]


__all__ = ["to_uint8", "image_grid", "save_png", "write_animation", "read_frames", "has_ffmpeg", "save_latent",
           "load_latent", "latent_noises", "LATENT_SUFFIXES"]


def save_projection(out: Path, res, meta: dict) -> list[Path]:
    """latent.safetensors + latent.npz (ws, noise.i) and losses.json under ``out``."""
    tensors = {"ws": res.ws, **{f"noise.{i}": n for i, n in enumerate(res.noises)}}
    meta = {**meta, "space": res.space, "steps": len(res.losses)}
    files = [save_latent(out / "latent.safetensors", tensors, meta), save_latent(out / "latent.npz", tensors)]
    write_json_atomic(out / "losses.json", {"loss": res.losses, "distance": res.distances, "final_terms": res.terms},
                      indent=None)
    return files + [out / "losses.json"]
