"""Fixed feature networks for perceptual (content) losses.

No VGG weights are available offline, so SRGAN's content loss runs either on a network file
the user supplies (TorchScript; ``net(x)`` with x float [N, 3, H, W] in [-1, 1] returns a
feature tensor) or on intermediate layers of the TF-Inception FID network
(:mod:`gankit.metrics.inception`). That network's TorchScript module exposes its stack as
``net.layers`` (conv, conv_1, conv_2, pool0, conv_3, conv_4, pool1, mixed ... mixed_10); its
children run one by one, accept small inputs (at 128^2 every layer up to mixed_10, conv_4
-> 192 x 28 x 28; at 64^2 conv_4 -> 192 x 12 x 12) and pass gradients to the input.

Because the same network computes FID, a model trained with this loss is scored with a
biased FID; PSNR/SSIM are the primary metrics for such models.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError, GankitError


def _rgb(x: Tensor) -> Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


class LayerFeatures(nn.Module):
    """Runs the children of ``layers`` (an ordered module) up to and including ``layer``.

    Input float [N, 1|3, H, W] in [-1, 1] (gray repeated to RGB), mapped to the Inception
    network's input scale ``((x + 1) * 127.5 - 128) / 128``; no resize. Parameters frozen."""

    def __init__(self, layers: nn.Module, layer: str, where: str = "feature_layer"):
        super().__init__()
        names = [n for n, _ in layers.named_children()]
        if layer not in names:
            raise ConfigError(f"{where}={layer!r}: not a layer of the feature network; choose one of {', '.join(names)}")
        self.blocks = [m for _, m in list(layers.named_children())[: names.index(layer) + 1]]
        self.layers = layers
        self.layer = layer
        for p in layers.parameters():
            p.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        x = (((_rgb(x) + 1) * 127.5) - 128) / 128
        # eager autograd through the scripted ops (the TorchScript executor's own autodiff of
        # batch norm fails on CUDA in torch 2.11; see gankit.editing.projection)
        with torch.jit.optimized_execution(False):
            for mod in self.blocks:
                x = mod(x)
        return x


class ScriptedFeatures(nn.Module):
    """A user's TorchScript feature network: ``net(x)`` on x float [N, 3, H, W] in [-1, 1]."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        for p in net.parameters():
            p.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(_rgb(x))


def inception_layers(net: nn.Module) -> nn.Module:
    """The ``layers`` stack of the FID network's TorchScript module (either nesting level)."""
    mods = dict(net.named_modules())
    layers = mods.get("net.layers") or mods.get("layers")
    if layers is None:
        raise GankitError("feature network: the Inception TorchScript module has no net.layers stack")
    return layers


def load_feature_net(path: str = "", layer: str = "conv_4", device: str | torch.device = "cpu",
                     where: str = "recipe.kwargs") -> nn.Module:
    """The content-loss network in eval mode on ``device``: ``path`` (a TorchScript file) when
    given, else the FID Inception network (found and hash-checked as for FID) cut at ``layer``."""
    import warnings

    if path:
        p = Path(os.path.expanduser(path))
        if not p.is_file():
            raise ConfigError(f"{where}.feature_net={path!r}: no such file (expected a TorchScript feature network .pt)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                net = torch.jit.load(str(p), map_location=device)
        except (RuntimeError, ValueError) as e:
            raise ConfigError(f"{where}.feature_net={path!r}: not a TorchScript file "
                              f"({str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__})") from None
        return ScriptedFeatures(net.eval()).to(device)
    from gankit.metrics.inception import load_inception

    net = load_inception(device=device).net.float().eval()
    return LayerFeatures(inception_layers(net), layer, f"{where}.feature_layer").to(device)
