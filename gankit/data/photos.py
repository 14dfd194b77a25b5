"""The scikit-image sample photos (``skimage.data``, CC0 / public domain) as an image source.

An out-of-domain test set for restoration models trained on emoji or Fashion-MNIST: 15 real
photographs and micrographs bundled with scikit-image (no download). Each is centre-cropped
to a square and resized (antialiased bilinear) to ``resolution``; gray photos are repeated to
RGB for ``channels=3``, colour ones converted to luma for ``channels=1``. Needs the optional
dependency ``scikit-image`` (``pip install 'gankit[restore]'``).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from PIL import Image

from gankit.data.transforms import resize_uint8
from gankit.errors import DataError

# Only images whose skimage.data docstring states CC0, public domain or no known copyright
# restrictions ('moon' and 'page' state none, so they are left out).
PHOTOS = ("astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "grass", "gravel",
          "hubble_deep_field", "immunohistochemistry", "retina", "rocket", "text")


def load_photo(name: str, channels: int = 3) -> torch.Tensor:
    """One ``skimage.data`` photo as uint8 [channels, H, W] (native size)."""
    try:
        import skimage.data
    except ImportError:
        raise DataError("the 'skimage' dataset needs scikit-image: pip install scikit-image "
                        "(or pip install 'gankit[restore]')") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = np.asarray(getattr(skimage.data, name)())
    img = Image.fromarray(a.astype(np.uint8))
    img = img.convert("L" if channels == 1 else "RGB")
    t = torch.from_numpy(np.array(img))
    return t[None] if t.ndim == 2 else t.permute(2, 0, 1).contiguous()


class SkimagePhotos(torch.utils.data.Dataset):
    """(uint8 [C, R, R], 0) per photo: centre square crop resized to ``resolution``."""

    target_kind = "none"
    attr_names: list[str] = []

    def __init__(self, resolution: int = 128, channels: int = 3, names: tuple[str, ...] = PHOTOS):
        if channels not in (1, 3):
            raise DataError(f"data.channels={channels}: the 'skimage' photos are gray or RGB (1 or 3)")
        out = []
        for name in names:
            x = load_photo(name, channels)
            h, w = x.shape[-2:]
            s = min(h, w)
            top, left = (h - s) // 2, (w - s) // 2
            out.append(resize_uint8(x[None, :, top:top + s, left:left + s], resolution)[0])
        self.images = torch.stack(out)
        self.names = list(names)
        self.resolution, self.channels = resolution, channels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], 0
