"""Character tokenisation of captions (English letters and Hangul syllables alike).

No pretrained tokenizer exists offline, and Korean captions are short, so a caption is a
sequence of Unicode characters: every Hangul syllable (U+AC00..U+D7A3) is one token, as is
every Latin letter, digit, space or punctuation mark. Captions are NFC-normalised first, so a
syllable typed as separate jamo and the precomposed syllable are the same token. Characters
not in the vocabulary map to ``<unk>``; id 0 is padding.

The vocabulary is built from the training captions and saved with the text encoder
(``chars`` in its JSON), so a run encodes new captions exactly as it was trained.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Iterable

import torch
from torch import Tensor

from gankit.errors import DataError

PAD, UNK = "<pad>", "<unk>"


def normalise(caption: str) -> str:
    """NFC, lower case, runs of whitespace collapsed to one space, stripped."""
    return " ".join(unicodedata.normalize("NFC", str(caption)).lower().split())


class CharVocab:
    """Characters -> ids: 0 = padding, 1 = unknown, then ``chars`` in order."""

    def __init__(self, chars: Iterable[str]):
        self.chars = list(dict.fromkeys(chars))
        bad = [c for c in self.chars if len(c) != 1]
        if bad:
            raise DataError(f"vocabulary: entries must be single characters, got {bad[0]!r}")
        self.index = {c: i + 2 for i, c in enumerate(self.chars)}

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 1) -> "CharVocab":
        """The characters of ``captions`` seen at least ``min_count`` times, most frequent first
        (ties in code-point order, so the vocabulary is deterministic)."""
        counts = Counter(ch for cap in captions for ch in normalise(cap))
        return cls(c for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= min_count)

    def __len__(self) -> int:
        """Number of ids (padding and unknown included)."""
        return len(self.chars) + 2

    def encode(self, caption: str) -> list[int]:
        """Ids of the normalised caption's characters (unknown characters -> 1)."""
        return [self.index.get(ch, 1) for ch in normalise(caption)]

    def decode(self, ids: Iterable[int]) -> str:
        """Characters of ``ids`` (padding dropped, unknown -> '<unk>')."""
        out = []
        for i in ids:
            i = int(i)
            if i == 0:
                continue
            out.append(UNK if i == 1 or i - 2 >= len(self.chars) else self.chars[i - 2])
        return "".join(out)

    def batch(self, captions: list[str], max_len: int) -> Tensor:
        """long [N, L] ids padded with 0 (L = the longest caption, at most ``max_len``)."""
        if not captions:
            raise DataError("captions: expected at least one caption")
        ids = []
        for cap in captions:
            seq = self.encode(cap)[:max_len]
            if not seq:
                raise DataError(f"caption {cap!r}: empty after normalisation; write some text")
            ids.append(seq)
        out = torch.zeros(len(ids), max(len(s) for s in ids), dtype=torch.long)
        for i, seq in enumerate(ids):
            out[i, :len(seq)] = torch.tensor(seq)
        return out

    def to_json(self) -> dict:
        return {"chars": "".join(self.chars)}

    @classmethod
    def from_json(cls, data: dict) -> "CharVocab":
        return cls(list(data["chars"]))
