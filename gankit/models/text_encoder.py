"""Text encoders for text-to-image: gankit's char-CNN-RNN and user TorchScript encoders.

:class:`CharCNNRNN` is a small version of Reed et al.'s (2016) char-CNN-RNN: character
embeddings -> two 1-D convolutions -> a GRU whose hidden states are averaged over the
caption's characters -> a linear map to ``emb_dim``. :class:`ImageEncoder` maps an image to
the same space; both are trained together by the joint-embedding loss
(:func:`gankit.losses.text.joint_embedding_loss`), then the text side conditions the GANs.

A trained encoder is a folder: ``text_encoder.safetensors`` (``text.*`` and ``image.*``
weights), ``text_encoder.json`` (constructor arguments, the character vocabulary, training
settings and test retrieval) and optionally ``embeddings.pt`` (the dataset's captions and
their embeddings, a cache). Loading runs no pickled code. Any TorchScript module that maps a
``List[str]`` of captions to float ``[N, D]`` works as well (a ``.pt`` file).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from gankit.data.text import CharVocab
from gankit.errors import CheckpointError, ConfigError
from gankit.io import atomic_path, write_json_atomic

WEIGHTS, META, CACHE = "text_encoder.safetensors", "text_encoder.json", "embeddings.pt"


class CharCNNRNN(nn.Module):
    """ids long [N, L] (0 = padding) -> embeddings float [N, emb_dim]."""

    def __init__(self, vocab_size: int, emb_dim: int = 256, char_dim: int = 64, width: int = 128, max_len: int = 96):
        super().__init__()
        self.vocab_size, self.emb_dim, self.max_len = vocab_size, emb_dim, max_len
        self.chars = nn.Embedding(vocab_size, char_dim, padding_idx=0)
        self.conv = nn.Sequential(nn.Conv1d(char_dim, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv1d(width, width, 3, padding=1), nn.ReLU())
        self.rnn = nn.GRU(width, width, batch_first=True)
        self.out = nn.Linear(width, emb_dim)

    def forward(self, ids: Tensor) -> Tensor:
        mask = (ids > 0).float().unsqueeze(-1)  # [N, L, 1]
        h = self.conv(self.chars(ids).transpose(1, 2)).transpose(1, 2) * mask
        h, _ = self.rnn(h)  # one direction: padding after a caption cannot change its states
        h = (h * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        return self.out(h)


class ImageEncoder(nn.Module):
    """images [N, C, R, R] in [-1, 1] -> embeddings [N, emb_dim] (stride-2 convs to 4x4, linear)."""

    def __init__(self, resolution: int, channels: int = 3, emb_dim: int = 256, width: int = 32):
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise ValueError(f"image encoder: resolution {resolution} must be a power of two >= 8")
        layers, c, r = [], channels, resolution
        while r > 4:
            w = min(width * 8, width * 2 ** (len(layers) // 2))
            layers += [nn.Conv2d(c, w, 4, 2, 1), nn.LeakyReLU(0.2)]
            c, r = w, r // 2
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * 16, emb_dim))
        self.resolution, self.channels, self.emb_dim = resolution, channels, emb_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class TextEmbedder:
    """``encode(captions) -> float [N, D]`` on the CPU, with a caption -> embedding cache
    (preloaded from the encoder folder's ``embeddings.pt``, which holds its dataset's captions).

    Wraps gankit's :class:`CharCNNRNN` (with its vocabulary) or a TorchScript module.
    ``image`` is the joint-embedding image encoder when the folder has one (R-precision).
    """

    def __init__(self, encode_fn, emb_dim: int, where: str, image: ImageEncoder | None = None,
                 meta: dict | None = None):
        self._encode, self.emb_dim, self.where, self.image, self.meta = encode_fn, emb_dim, where, image, meta or {}
        self.cache: dict[str, Tensor] = {}

    @torch.no_grad()
    def encode(self, captions: list[str]) -> Tensor:
        # One caption per call: a batch's padding and size change the float rounding, and an
        # embedding must not depend on which captions it was first encoded with (exact resume).
        for cap in dict.fromkeys(c for c in captions if c not in self.cache):
            out = self._encode([cap]).detach().float().cpu()
            if out.dim() != 2 or out.shape[0] != 1:
                raise ConfigError(f"text encoder {self.where}: expected [N, D] embeddings for N captions, got "
                                  f"{tuple(out.shape)} for one")
            self.cache[cap] = out[0]
        return torch.stack([self.cache[c] for c in captions])

    def load_cache(self, path: Path) -> int:
        """Add a saved ``{captions, emb}`` cache; returns how many captions it held."""
        data = torch.load(path, map_location="cpu", weights_only=True)
        self.cache.update(zip(data["captions"], data["emb"].float()))
        return len(data["captions"])


def save_text_encoder(out_dir: str | os.PathLike, text: CharCNNRNN, vocab: CharVocab, image: ImageEncoder | None,
                      info: dict) -> Path:
    """Write the encoder folder (weights + JSON); returns it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {f"text.{k}": v.detach().cpu().contiguous() for k, v in text.state_dict().items()}
    meta = {"text": {"vocab_size": text.vocab_size, "emb_dim": text.emb_dim, "char_dim": text.chars.embedding_dim,
                     "width": text.rnn.hidden_size, "max_len": text.max_len}, "vocab": vocab.to_json(), **info}
    if image is not None:
        tensors.update({f"image.{k}": v.detach().cpu().contiguous() for k, v in image.state_dict().items()})
        meta["image"] = {"resolution": image.resolution, "channels": image.channels, "emb_dim": image.emb_dim,
                         "width": image.net[0].out_channels}
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(tensors, str(tmp))
    write_json_atomic(out / META, meta)
    return out


def load_text_encoder(path: str | os.PathLike, device: str | torch.device = "cpu") -> TextEmbedder:
    """A gankit encoder folder (or its JSON/weights file) or a TorchScript ``.pt`` file."""
    p = Path(path)
    if p.is_file() and p.suffix == ".pt":
        return _load_torchscript(p, device)
    if p.is_file() and p.name in (WEIGHTS, META):
        p = p.parent
    if not (p / META).is_file() or not (p / WEIGHTS).is_file():
        raise ConfigError(f"text encoder '{path}': expected a folder with {META} and {WEIGHTS} "
                          "(gankit train-text-encoder) or a TorchScript .pt file")
    meta = json.loads((p / META).read_text(encoding="utf-8"))
    tensors = load_file(str(p / WEIGHTS))
    vocab = CharVocab.from_json(meta["vocab"])
    text = CharCNNRNN(**meta["text"])
    image = ImageEncoder(**meta["image"]) if "image" in meta else None
    try:
        text.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("text.")})
        if image is not None:
            image.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("image.")})
    except RuntimeError as e:
        raise CheckpointError(f"text encoder '{path}': weights do not fit ({str(e).splitlines()[0][:120]})") from None
    text.to(device).eval().requires_grad_(False)
    if image is not None:
        image.to(device).eval().requires_grad_(False)

    def encode(captions: list[str]) -> Tensor:
        return text(vocab.batch(captions, text.max_len).to(device))

    emb = TextEmbedder(encode, text.emb_dim, str(path), image, meta)
    emb.vocab, emb.text = vocab, text
    if (p / CACHE).is_file():
        emb.load_cache(p / CACHE)
    return emb


def _load_torchscript(p: Path, device) -> TextEmbedder:
    try:
        mod = torch.jit.load(str(p), map_location=device).eval()
    except Exception as e:  # a corrupt or non-TorchScript file
        raise ConfigError(f"text encoder '{p}': not a TorchScript module ({str(e).splitlines()[0][:120]})") from None

    def encode(captions: list[str]) -> Tensor:
        return mod(captions)

    probe = TextEmbedder(encode, 0, str(p))
    dim = int(probe.encode(["a"]).shape[1])
    probe.cache.clear()
    probe.emb_dim = dim
    return probe


def encoder_dim(path: str) -> int:
    """The embedding size of an encoder (read from its JSON, or probed for TorchScript)."""
    p = Path(path)
    if p.is_dir() and (p / META).is_file():
        return int(json.loads((p / META).read_text(encoding="utf-8"))["text"]["emb_dim"])
    return load_text_encoder(path).emb_dim
