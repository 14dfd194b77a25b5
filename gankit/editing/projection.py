"""Projection of an image into the latent space W or W+ of a style generator.

Our own implementation of the procedure of StyleGAN 2's projector (Karras et al. 2020, appendix
D): start from w_avg; optimize w (one vector, "w", or one per layer, "w+") together with the
per-layer noise maps by Adam; the learning rate ramps up linearly then down by a cosine; Gaussian
noise of decreasing scale is added to w during the first steps (exploration); the noise maps are
kept from carrying the image by an autocorrelation regularizer and renormalized to zero mean,
unit variance after every step.

Loss (see docs/editing.md for why): ``perceptual_weight * d(G(w), target)`` with ``d`` a
perceptual distance (:class:`Perceptual`: Inception multi-layer features by default, a user's
TorchScript LPIPS-like network, or a tiny random network for tests)
``+ pixel_weight * multiscale L1 + noise_weight * noise regularizer``.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import GankitError

SPACES = ("w", "w+")


@dataclass
class ProjectionResult:
    """Output of :func:`project`.

    ws: [num_ws, w_dim] float32 CPU (for space "w" all rows are equal); image: [C, R, R] float
    in about [-1, 1] (G(ws) with the optimized noise); noises: the optimized noise maps
    (each [1, 1, r, r]); losses: total loss per step; distances: perceptual + pixel terms
    per step (no noise regularizer, whose start depends on the random maps); frames: uint8 [H, W, C] side-by-side
    (target | reconstruction) snapshots, empty unless ``frame_every`` > 0.
    """

    ws: Tensor
    image: Tensor
    noises: list[Tensor]
    losses: list[float]
    distances: list[float]
    space: str
    frames: list[np.ndarray] = field(default_factory=list)
    terms: dict[str, float] = field(default_factory=dict)


class Perceptual(nn.Module):
    """A perceptual distance to a fixed target: ``set_target(y)`` then ``self(x) -> [N]``.

    x, y: float [N, C, H, W] in about [-1, 1] (C = 1 or 3). Subclasses give ``features(x) ->
    list of [N, C_l, H_l, W_l]``; the distance is LPIPS without learned weights: per layer,
    features unit-normalized over channels, squared difference summed over channels (= 2 - 2 cos,
    in [0, 4]) and averaged over space; then averaged over layers (Zhang et al. 2018 with the
    learned "lin" weights replaced by ones).
    """

    def features(self, x: Tensor) -> list[Tensor]:
        raise NotImplementedError

    def set_target(self, y: Tensor) -> None:
        with torch.no_grad():
            self._target = [f.detach() for f in self.features(y)]

    def forward(self, x: Tensor) -> Tensor:
        total = x.new_zeros(x.shape[0])
        for fx, fy in zip(self.features(x), self._target):
            fx = fx / fx.square().sum(1, keepdim=True).add(1e-10).sqrt()
            fy = fy / fy.square().sum(1, keepdim=True).add(1e-10).sqrt()
            total = total + (fx - fy).square().sum(1).flatten(1).mean(1)
        return total / max(len(self._target), 1)


def _rgb(x: Tensor) -> Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


class InceptionPerceptual(Perceptual):
    """Multi-layer features of the FID Inception network (gankit.metrics.inception).

    The TorchScript module's ``layers`` children are run one by one, so intermediate
    activations are reachable: taps after conv_2 (147², 64 ch), pool1 (35², 192), mixed_2
    (35², 288), mixed_7 (17², 768) and mixed_10 (8², 2048). Input: bilinear resize to ``size``
    (299, the network's size) and the network's own scaling ((x+1)*127.5 - 128)/128 ~= x.
    """

    TAPS = ("conv_2", "pool1", "mixed_2", "mixed_7", "mixed_10")

    def __init__(self, net, size: int = 299):
        super().__init__()
        # NVIDIA's export nests the sequential stack as <top>.net.layers; accept either level.
        layers = dict(net.named_modules()).get("net.layers") or dict(net.named_modules()).get("layers")
        if layers is None:
            raise GankitError("Inception perceptual loss: the TorchScript network has no net.layers module")
        self.blocks = [(name, mod) for name, mod in layers.named_children() if name != "pool2"]
        self.size = size
        self.net = net  # keeps the module (and its device) referenced

    def features(self, x: Tensor) -> list[Tensor]:
        x = _rgb(x)
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > self.size)
        x = ((x + 1) * 127.5 - 128) / 128
        out = []
        # Plain execution: the TorchScript executor's own autodiff of batch norm fails on CUDA
        # ("tensor does not have a device", torch 2.11); eager autograd through the ops works.
        with torch.jit.optimized_execution(False):
            for name, mod in self.blocks:
                x = mod(x)
                if name in self.TAPS:
                    out.append(x)
        return out


class TinyPerceptual(Perceptual):
    """A fixed random 3-layer conv net (seeded): a cheap stand-in for tests and CPU smoke runs."""

    def __init__(self, seed: int = 0, width: int = 16):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        chans = [3, width, width * 2, width * 4]
        self.weights = [torch.randn(o, i, 3, 3, generator=g) / math.sqrt(9 * i) for i, o in zip(chans, chans[1:])]

    def features(self, x: Tensor) -> list[Tensor]:
        x, out = _rgb(x), []
        for i, w in enumerate(self.weights):
            x = F.leaky_relu(F.conv2d(x, w.to(x.device, x.dtype), stride=1 if i == 0 else 2, padding=1), 0.2)
            out.append(x)
        return out


class ScriptedDistance(Perceptual):
    """A user's TorchScript LPIPS-like network: ``net(x, y) -> distances`` ([N] or [N, 1, 1, 1]),
    both inputs float [N, 3, H, W] in [-1, 1] at the generator's resolution (the LPIPS
    package's convention with ``normalize=False``)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def set_target(self, y: Tensor) -> None:
        self._y = _rgb(y).detach()

    def forward(self, x: Tensor) -> Tensor:
        return self.net(_rgb(x), self._y.expand(x.shape[0], -1, -1, -1)).reshape(x.shape[0], -1).mean(1)


def build_perceptual(spec: str | None, device: str | torch.device = "cpu", size: int = 299) -> Perceptual:
    """"inception" (the FID network's layers; "inception:PATH" for another copy), "tiny" (random stand-in), "none"/None (no
    perceptual term: a zero distance) or a path to a TorchScript LPIPS-like ``.pt`` file."""
    if spec in (None, "none"):
        return _Zero()
    if spec == "tiny":
        return TinyPerceptual()
    if spec == "inception" or spec.startswith("inception:"):
        from gankit.metrics.inception import load_inception

        # "inception:PATH" loads that copy of the network without the hash check (e.g. a
        # re-saved or half-precision copy carried to another machine); parameters -> float32.
        path = spec.partition(":")[2] or None
        net = load_inception(path, device=device, verify=path is None).net.float()
        for prm in net.parameters():  # gradients flow to the input only
            prm.requires_grad_(False)
        return InceptionPerceptual(net, size)
    if not Path(spec).is_file():
        raise GankitError(f"perceptual network {spec!r}: expected inception, tiny, none or a TorchScript .pt file")
    return ScriptedDistance(load_scripted(spec, device, "perceptual network"))


def load_scripted(path: str | Path, device, what: str = "network") -> torch.jit.ScriptModule:
    """Load a user-supplied TorchScript file in eval mode; one-line errors for bad files."""
    p = Path(path)
    if not p.is_file():
        raise GankitError(f"{p}: {what} file does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.load deprecation notice on new torch
            return torch.jit.load(str(p), map_location=device).eval()
    except Exception as e:
        raise GankitError(f"{p}: not a TorchScript file ({type(e).__name__})") from None


class _Zero(Perceptual):
    def set_target(self, y: Tensor) -> None:
        pass

    def forward(self, x: Tensor) -> Tensor:
        return x.new_zeros(x.shape[0])


def prepare_target(image, resolution: int, channels: int) -> Tensor:
    """uint8 [H, W], [H, W, C] (numpy/PIL/tensor) or [C, H, W] tensor, or float [C, H, W] in
    [-1, 1] -> float32 [1, channels, resolution, resolution] in [-1, 1] (antialiased resize)."""
    if not isinstance(image, Tensor):
        image = torch.from_numpy(np.array(image))
        if image.ndim == 2:
            image = image[..., None]
        if image.ndim != 3:
            raise GankitError(f"target image: expected [H, W] or [H, W, C], got shape {tuple(image.shape)}")
        image = image.permute(2, 0, 1)
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[0] not in (1, 3, 4):
        raise GankitError(f"target image: expected [C, H, W] with C in 1, 3, 4, got shape {tuple(image.shape)}")
    x = image.float() / 127.5 - 1 if image.dtype == torch.uint8 else image.float()
    x = x[:3]  # drop alpha
    if x.shape[0] != channels:
        x = x.mean(0, keepdim=True) if channels == 1 else x.expand(channels, -1, -1)
    x = x.unsqueeze(0)
    if x.shape[-2:] != (resolution, resolution):
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp(-1, 1).contiguous()


def multiscale_l1(x: Tensor, y: Tensor, scales: int = 3) -> Tensor:
    """Mean |x - y| averaged over ``scales`` 2x average-pooled levels. x, y [N, C, H, W] -> [N]."""
    total = x.new_zeros(x.shape[0])
    for s in range(scales):
        total = total + (x - y).abs().flatten(1).mean(1)
        if min(x.shape[-2:]) < 8:
            return total / (s + 1)
        x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return total / scales


def noise_regularizer(noises: list[Tensor]) -> Tensor:
    """StyleGAN 2's noise autocorrelation penalty: squared mean products of each map with
    itself shifted by one pixel (x and y, wrapping), at every 2x-pooled scale down to 8x8.
    Zero in expectation for white noise; large when the map carries image structure."""
    reg = noises[0].new_zeros(())
    for n in noises:
        while True:
            reg = reg + (n * torch.roll(n, 1, dims=3)).mean() ** 2 + (n * torch.roll(n, 1, dims=2)).mean() ** 2
            if n.shape[-1] <= 8:
                break
            n = F.avg_pool2d(n, 2)
    return reg


def lr_schedule(t: float, lr: float, rampup: float = 0.05, rampdown: float = 0.25) -> float:
    """Learning rate at progress t in [0, 1]: linear warm-up over ``rampup``, cosine down over
    the last ``rampdown`` of the run (StyleGAN 2 projector schedule)."""
    ramp = min(1.0, (1.0 - t) / rampdown) if rampdown > 0 else 1.0
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    if rampup > 0:
        ramp = ramp * min(1.0, t / rampup)
    return lr * ramp


@torch.no_grad()
def w_statistics(G: nn.Module, n: int, device, generator: torch.Generator | None = None) -> tuple[Tensor, float]:
    """(start w [w_dim], w_std): start = G.w_avg (the sample mean when the buffer was never
    updated, i.e. all zeros); w_std = RMS distance of ``n`` mapped samples from it."""
    z = torch.randn(n, G.z_dim, generator=generator).to(device)
    c = None
    if getattr(G, "n_classes", 0) > 0:
        c = torch.randint(0, G.n_classes, (n,), generator=generator).to(device)
    w = G.mapping(z, c, update_w_avg=False)[:, 0].float()
    avg = G.w_avg.float()
    if not bool(avg.abs().sum() > 0):
        avg = w.mean(0)
    return avg, float(((w - avg) ** 2).sum(1).mean().sqrt())


def _frame(target: Tensor, image: Tensor) -> np.ndarray:
    pair = torch.cat([target[0], image[0].clamp(-1, 1)], dim=2)  # [C, R, 2R]
    arr = ((pair + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return np.repeat(arr, 3, axis=2) if arr.shape[2] == 1 else arr


@dataclass
class ProjectConfig:
    """Hyper-parameters of :func:`project` (StyleGAN 2 projector defaults where they exist)."""

    steps: int = 1000
    lr: float = 0.1
    lr_rampup: float = 0.05
    lr_rampdown: float = 0.25
    w_noise: float = 0.05          # initial w-noise scale, in units of w_std
    w_noise_ramp: float = 0.75     # fraction of the run over which it decays (quadratically) to 0
    noise_weight: float = 1e5      # noise autocorrelation regularizer
    perceptual_weight: float = 1.0
    pixel_weight: float = 1.0
    pixel_scales: int = 3
    w_avg_samples: int = 2000
    optimize_noise: bool = True


def project(G: nn.Module, target, space: str = "w", steps: int = 1000, perceptual: Perceptual | str | None = "inception",
            cfg: ProjectConfig | None = None, device: str | torch.device = "cpu", frame_every: int = 0,
            generator: torch.Generator | None = None, progress: bool = False, **overrides) -> ProjectionResult:
    """Find ws with G.synthesis(ws) ~= target. G: a StyleGenerator (left untouched: a copy is
    optimized). target: an image for :func:`prepare_target`. perceptual: a Perceptual object, a
    name for :func:`build_perceptual` ("inception", "tiny", "none") or a TorchScript path.
    ``overrides`` set ProjectConfig fields. Returns a :class:`ProjectionResult`."""
    if space not in SPACES:
        raise GankitError(f"space {space!r}: expected one of {', '.join(SPACES)}")
    if not hasattr(G, "mapping") or not hasattr(G, "noise_buffers"):
        raise GankitError(f"projection needs a style generator (mapping/synthesis), got {type(G).__name__}")
    if steps < 1:
        raise GankitError(f"projection steps must be >= 1, got {steps}")
    cfg = _replace(cfg or ProjectConfig(), steps=steps, **overrides)
    G = copy.deepcopy(G).to(device).eval().requires_grad_(False)
    y = prepare_target(target, G.resolution, G.channels).to(device)
    perc = build_perceptual(perceptual, device) if perceptual is None or isinstance(perceptual, str) else perceptual
    if cfg.perceptual_weight > 0:
        perc.set_target(y)
    w_opt, noises, w_std = _init_variables(G, cfg, space, device, generator)
    opt = torch.optim.Adam([w_opt] + noises, betas=(0.9, 0.999), lr=cfg.lr)
    history, frames = [], []  # per-step loss terms stay on the device: no sync per step
    bar = _progress(cfg.steps, progress)
    for step in range(cfg.steps):
        t = step / cfg.steps
        for g in opt.param_groups:
            g["lr"] = lr_schedule(t, cfg.lr, cfg.lr_rampup, cfg.lr_rampdown)
        w_noise_scale = w_std * cfg.w_noise * max(0.0, 1.0 - t / cfg.w_noise_ramp) ** 2 if cfg.w_noise_ramp > 0 else 0.0
        w_noise = torch.randn(w_opt.shape, generator=generator).to(device) * w_noise_scale
        loss, dist = _loss(G, w_opt + w_noise, y, perc, noises, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():  # keep the noise maps white: zero mean, unit variance
            for n in noises:
                n.sub_(n.mean()).div_(n.square().mean().sqrt().clamp_min(1e-8))
        history.append(torch.stack([loss.detach(), dist.detach()]))
        if frame_every > 0 and (step % frame_every == 0 or step == cfg.steps - 1):
            with torch.no_grad():
                frames.append(_frame(y, G.synthesis(_expand(w_opt, G), noise_mode="const")))
        if bar is not None:
            bar.update(1)
            if step % 50 == 0 or step == cfg.steps - 1:
                bar.set_postfix(loss=f"{float(history[-1][0]):.4f}")
    if bar is not None:
        bar.close()
    with torch.no_grad():
        ws = _expand(w_opt.detach(), G)
        image = G.synthesis(ws, noise_mode="const")[0].float().cpu()
        _, terms = _loss(G, ws, y, perc, noises, cfg, terms=True)
    hist = torch.stack(history).cpu()
    return ProjectionResult(ws=ws[0].float().cpu(), image=image, noises=[n.detach().cpu().clone() for n in noises],
                            losses=hist[:, 0].tolist(), distances=hist[:, 1].tolist(), space=space, frames=frames,
                            terms=terms)


def _init_variables(G, cfg: ProjectConfig, space: str, device, generator) -> tuple[Tensor, list[Tensor], float]:
    """(w [1, 1 | num_ws, w_dim] from the start point, the copy's noise buffers made white and
    trainable (empty if not optimized), w_std)."""
    w_start, w_std = w_statistics(G, cfg.w_avg_samples, device, generator)
    n_w = G.num_ws if space == "w+" else 1
    w_opt = w_start.detach().clone().view(1, 1, -1).repeat(1, n_w, 1).requires_grad_(True)
    noises = G.noise_buffers() if cfg.optimize_noise else []
    for n in noises:
        n.copy_(torch.randn(n.shape, generator=generator).to(device))
        n.requires_grad_(True)
    return w_opt, noises, w_std


def _replace(cfg: ProjectConfig, **kw) -> ProjectConfig:
    import dataclasses

    bad = [k for k in kw if k not in {f.name for f in dataclasses.fields(ProjectConfig)}]
    if bad:
        raise GankitError(f"projection option {bad[0]!r} unknown; expected one of ProjectConfig's fields")
    return dataclasses.replace(cfg, **kw)


def _expand(w: Tensor, G: nn.Module) -> Tensor:
    """[1, 1 | num_ws, w_dim] -> [1, num_ws, w_dim]."""
    return w.expand(-1, G.num_ws, -1) if w.shape[1] == 1 else w


def _loss(G, w: Tensor, y: Tensor, perc: Perceptual, noises: list[Tensor], cfg: ProjectConfig,
          terms: bool = False):
    """(total loss, distance = weighted perceptual + pixel terms), both 0-d tensors; with
    ``terms`` the second item is instead a dict of the unweighted terms as floats."""
    x = G.synthesis(_expand(w, G), noise_mode="const").float()
    zero = x.new_zeros(())
    perc_d = perc(x).sum() if cfg.perceptual_weight > 0 else zero
    pix = multiscale_l1(x, y, cfg.pixel_scales).sum() if cfg.pixel_weight > 0 else zero
    reg = noise_regularizer(noises) if noises and cfg.noise_weight > 0 else zero
    dist = cfg.perceptual_weight * perc_d + cfg.pixel_weight * pix
    if terms:
        return dist + cfg.noise_weight * reg, {"perceptual": float(perc_d), "pixel_l1": float(pix), "noise_reg": float(reg)}
    return dist + cfg.noise_weight * reg, dist


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="project", unit="step")


def reconstruct(G: nn.Module, ws: Tensor, noises: list[Tensor] | None = None) -> Tensor:
    """Render ws [num_ws, w_dim] or [N, num_ws, w_dim] with the given noise maps (from a
    projection) loaded into a copy of G -> images [N, C, R, R] float CPU in about [-1, 1]."""
    G = with_noises(G, noises)
    ws = ws.unsqueeze(0) if ws.dim() == 2 else ws
    p = next(G.parameters())
    with torch.no_grad():
        return G.synthesis(ws.to(p.device, p.dtype), noise_mode="const" if noises else "none").float().cpu()


def with_noises(G: nn.Module, noises: list[Tensor] | None) -> nn.Module:
    """A copy of G whose const noise buffers hold ``noises`` (G itself when None/empty)."""
    if not noises:
        return G
    bufs = G.noise_buffers()
    if len(bufs) != len(noises) or any(a.shape != b.shape for a, b in zip(bufs, noises)):
        raise GankitError(f"latent noise maps ({len(noises)}) do not fit this generator ({len(bufs)} noise layers)")
    G = copy.deepcopy(G)
    for b, n in zip(G.noise_buffers(), noises):
        b.copy_(n.to(b.device, b.dtype))
    return G


__all__ = ["Perceptual", "InceptionPerceptual", "TinyPerceptual", "ScriptedDistance", "build_perceptual", "project", "ProjectConfig", "ProjectionResult", "prepare_target", "multiscale_l1", "noise_regularizer",
           "lr_schedule", "w_statistics", "reconstruct", "with_noises", "SPACES"]
