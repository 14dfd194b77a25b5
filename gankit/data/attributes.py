"""Binary-attribute image sources: the CelebA layout and a generic CSV attribute table.

Both follow the data source protocol: ``source[i] -> (uint8 [3, R, R], float32 [A] of 0/1)``
with ``channels=3``, ``resolution=R``, ``target_kind="attributes"``, ``attr_names`` (the A
selected attributes, in the requested order) and ``n_classes=A`` (the conditioning width).

CelebA layout (``root/``)::

    img_align_celeba/000001.jpg ...
    list_attr_celeba.txt        line 1: image count; line 2: the 40 attribute names;
                                then "000001.jpg  -1  1 ..." (values 1 / -1)
    list_eval_partition.txt     optional: "000001.jpg 0" (0 train, 1 val, 2 test)

CSV table: header ``file,attr1,attr2,...`` (an optional ``split`` column filters rows);
values 0/1 or -1/1; ``file`` is relative to ``image_root`` (default: the CSV's folder).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import torch

from PIL import Image

from gankit.data.images import convert_mode, open_image, to_chw
from gankit.errors import DataError
from gankit.registry import did_you_mean

CELEBA_SPLITS = {"train": 0, "val": 1, "test": 2}
# Official CelebA partition by image number, used when list_eval_partition.txt is absent.
_CELEBA_LAST = {0: 162770, 1: 182637, 2: 202599}
_RESERVED = {"file", "split"}


def to_rgb(img: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Convert any PIL mode to RGB explicitly (transparency composited over ``background``)."""
    return convert_mode(img, 3, background)


def load_rgb(path: Path, resolution: int | None, crop: int | None, max_pixels: int | None = None) -> torch.Tensor:
    """Decode ``path`` to uint8 [3, R, R].

    crop: side of a centre square cut first (CelebA: 178, clipped to the image); then a
    non-square image is centre-cropped to a square, and resized to ``resolution`` with an
    antialiasing Lanczos filter. resolution=None keeps the (cropped) size. max_pixels: see
    :func:`~gankit.data.images.open_image` (``data.max_pixels``).
    """
    img = open_image(path, 3, max_pixels=max_pixels)
    w, h = img.size
    side = min(w, h) if crop is None else min(crop, w, h)
    left, top = (w - side) // 2, (h - side) // 2
    if (side, side) != (w, h):
        img = img.crop((left, top, left + side, top + side))
    if resolution is not None and resolution != side:
        img = img.resize((resolution, resolution), Image.LANCZOS)
    return to_chw(img)


def _select(names: list[str], attrs: list[str] | None, where: str) -> list[int]:
    """Column indices of ``attrs`` within ``names`` (all when None); unknown names raise."""
    if attrs is None:
        return list(range(len(names)))
    if not attrs:
        raise DataError(f"{where}: attrs is empty; name at least one of: {', '.join(names)}")
    out = []
    for a in attrs:
        if a not in names:
            raise DataError(f"{where}: unknown attribute '{a}'{did_you_mean(a, names)}; available: {', '.join(names)}")
        out.append(names.index(a))
    return out


def _parse_value(v: str, where: str) -> float:
    """Attribute value '1' -> 1.0, '0' or '-1' -> 0.0; anything else raises."""
    v = v.strip()
    if v == "1":
        return 1.0
    if v in ("0", "-1"):
        return 0.0
    raise DataError(f"{where}: attribute value '{v}' is not one of 1, 0, -1")


class _AttributeSource(torch.utils.data.Dataset):
    """Shared item logic: files [N] + attribute matrix float32 [N, A] of 0/1."""

    channels = 3
    target_kind = "attributes"

    def __init__(self, files: list[Path], attrs: np.ndarray, attr_names: list[str],
                 resolution: int | None, crop: int | None, where: str, max_pixels: int | None = None):
        if not files:
            raise DataError(f"{where}: no images selected (empty table or split)")
        self.files, self.crop, self.max_pixels = files, crop, max_pixels
        self.attrs = torch.from_numpy(np.ascontiguousarray(attrs, dtype=np.float32))
        self.attr_names = list(attr_names)
        self.n_classes = len(self.attr_names)
        if resolution is None:  # native size: measured on the first image after cropping
            resolution = int(load_rgb(files[0], None, crop, max_pixels).shape[-1])
        self.resolution = int(resolution)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(uint8 [3, R, R], float32 [A] in {0, 1})."""
        return load_rgb(self.files[i], self.resolution, self.crop, self.max_pixels), self.attrs[i].clone()

    def positives(self) -> dict[str, int]:
        """Number of images with each attribute set to 1."""
        return {n: int(v) for n, v in zip(self.attr_names, self.attrs.sum(0).tolist())}


def read_text_file(path: Path, what: str) -> str:
    """The text of a table file: UTF-8, with or without a byte-order mark (as spreadsheet
    programs save "CSV UTF-8"). Another encoding, a binary file or an unreadable file is a
    one-line DataError naming the file (and the line of the first bad byte)."""
    if path.is_dir():
        raise DataError(f"{what} file '{path}' is a folder; expected a text file")
    if not path.is_file():
        raise DataError(f"{what} file '{path}' is missing")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None
    if b"\x00" in raw:
        raise DataError(f"{path}: holds NUL bytes (a binary file, or UTF-16 text); expected UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(f"{path} line {line}: byte 0x{raw[e.start]:02x} is not UTF-8; expected a UTF-8 text file "
                        "(re-save it as UTF-8, e.g. 'iconv -f latin1 -t utf-8')") from None


def _read_lines(path: Path, what: str) -> list[str]:
    return read_text_file(path, what).splitlines()


def read_celeba_attrs(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Parse list_attr_celeba.txt -> (file names [N], attribute names [A], float32 [N, A] 0/1)."""
    lines = _read_lines(path, "CelebA attribute")
    if len(lines) < 2:
        raise DataError(f"{path}: expected a count line and an attribute-name line, got {len(lines)} line(s)")
    try:
        declared = int(lines[0].strip())
    except ValueError:
        raise DataError(f"{path} line 1: expected the image count, got '{lines[0].strip()[:40]}'") from None
    names = lines[1].split()
    files, rows = [], []
    for no, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(names) + 1:
            raise DataError(f"{path} line {no}: expected {len(names) + 1} columns (file + {len(names)} attributes), got {len(parts)}")
        files.append(parts[0])
        rows.append([_parse_value(v, f"{path} line {no}") for v in parts[1:]])
    if declared != len(files):
        raise DataError(f"{path} line 1: declares {declared} images but lists {len(files)}")
    return files, names, np.asarray(rows, dtype=np.float32).reshape(len(files), len(names))


def _celeba_partition(root: Path, files: list[str]) -> list[int]:
    """Partition id (0/1/2) per file from list_eval_partition.txt, else the official ranges."""
    path = root / "list_eval_partition.txt"
    if path.is_file():
        table = {}
        for no, line in enumerate(_read_lines(path, "CelebA partition"), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise DataError(f"{path} line {no}: expected 'FILE 0|1|2', got '{line.strip()[:60]}'")
            table[parts[0]] = int(parts[1])
        missing = [f for f in files if f not in table]
        if missing:
            raise DataError(f"{path}: no partition for '{missing[0]}' ({len(missing)} file(s) missing)")
        return [table[f] for f in files]
    out = []
    for f in files:
        stem = Path(f).stem
        if not stem.isdigit():
            raise DataError(f"{path} is missing and '{f}' is not a numbered CelebA file; add the partition file or use split='all'")
        n = int(stem)
        out.append(0 if n <= _CELEBA_LAST[0] else 1 if n <= _CELEBA_LAST[1] else 2)
    return out


class CelebA(_AttributeSource):
    """CelebA aligned faces with selected binary attributes.

    Items: (uint8 [3, R, R], float32 [A] 0/1) after a centre ``crop`` (178) and an
    antialiased resize to ``resolution``. split: train | val | test | all.
    """

    def __init__(self, root: str | os.PathLike, attrs: list[str] | None = None, resolution: int = 128,
                 split: str = "train", crop: int | None = 178, max_pixels: int | None = None):
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"CelebA folder '{root}' does not exist (expected img_align_celeba/ and list_attr_celeba.txt)")
        img_dir = root / "img_align_celeba"
        if not img_dir.is_dir():
            raise DataError(f"CelebA image folder '{img_dir}' is missing")
        if split != "all" and split not in CELEBA_SPLITS:
            raise DataError(f"CelebA split '{split}': expected one of train, val, test, all{did_you_mean(split, list(CELEBA_SPLITS))}")
        attr_path = root / "list_attr_celeba.txt"
        files, names, values = read_celeba_attrs(attr_path)
        cols = _select(names, attrs, str(attr_path))
        keep = list(range(len(files)))
        if split != "all":
            part = _celeba_partition(root, files)
            keep = [i for i in keep if part[i] == CELEBA_SPLITS[split]]
        present = set(os.listdir(img_dir))
        for i in keep:
            if files[i] not in present:
                raise DataError(f"{attr_path}: image '{files[i]}' listed but missing from {img_dir}")
        super().__init__([img_dir / files[i] for i in keep], values[keep][:, cols],
                         [names[c] for c in cols], resolution, crop, f"{attr_path} (split {split})", max_pixels)
        self.root, self.split = root, split


def read_attribute_csv(path: Path) -> tuple[list[str], list[str | None], list[str], np.ndarray, list[int]]:
    """Parse an attribute CSV.

    Returns (files [N], splits [N] (None without a split column), attribute names [A],
    float32 [N, A] of 0/1, 1-based line numbers [N]).
    """
    text = read_text_file(path, "attribute table")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as e:
        raise DataError(f"{path} line {reader.line_num}: not a readable CSV row ({e})") from None
    if not rows or not rows[0]:
        raise DataError(f"{path}: empty file; expected a header 'file,attr1,attr2,...'")
    header = [h.strip() for h in rows[0]]
    if header[0] != "file":
        raise DataError(f"{path} line 1: first column must be 'file', got '{header[0][:40]}'")
    for j, h in enumerate(header):
        if not h:
            raise DataError(f"{path} line 1: column {j + 1} has no name; expected 'file,attr1,attr2,...'")
        if header.index(h) != j:
            raise DataError(f"{path} line 1: column '{h}' appears twice")
    split_col = header.index("split") if "split" in header else None
    attr_cols = [j for j, h in enumerate(header) if h not in _RESERVED]
    if not attr_cols:
        raise DataError(f"{path} line 1: no attribute columns after 'file'")
    files, splits, values, line_nos = [], [], [], []
    for no, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{path} line {no}: expected {len(header)} columns like the header, got {len(row)}")
        files.append(row[0].strip())
        line_nos.append(no)
        splits.append(row[split_col].strip() if split_col is not None else None)
        values.append([_parse_value(row[j], f"{path} line {no} column '{header[j]}'") for j in attr_cols])
    names = [header[j] for j in attr_cols]
    return files, splits, names, np.asarray(values, dtype=np.float32).reshape(len(files), len(names)), line_nos


class AttributeTable(_AttributeSource):
    """Images listed in a CSV with binary attributes (user data, Emoji people).

    Items: (uint8 [3, R, R], float32 [A] 0/1). ``split`` filters rows on the CSV's ``split``
    column ("all" keeps every row). crop: optional centre square side cut before resizing.
    """

    def __init__(self, csv_path: str | os.PathLike, image_root: str | os.PathLike | None = None,
                 attrs: list[str] | None = None, resolution: int | None = None, split: str = "all",
                 crop: int | None = None, max_pixels: int | None = None):
        csv_path = Path(csv_path)
        files, splits, names, values, line_nos = read_attribute_csv(csv_path)
        cols = _select(names, attrs, str(csv_path))
        keep = list(range(len(files)))
        if split != "all":
            if splits and splits[0] is None:
                raise DataError(f"{csv_path}: split '{split}' requested but the table has no 'split' column")
            known = sorted({s for s in splits if s})
            if split not in known:
                raise DataError(f"{csv_path}: no rows with split '{split}'{did_you_mean(split, known)}; splits present: {', '.join(known)}")
            keep = [i for i in keep if splits[i] == split]
        root = Path(image_root) if image_root is not None else csv_path.parent
        if not root.is_dir():
            raise DataError(f"image folder '{root}' for {csv_path} does not exist")
        paths = [root / files[i] for i in keep]
        for i, p in zip(keep, paths):
            if not p.is_file():
                raise DataError(f"{csv_path} line {line_nos[i]}: image '{files[i]}' is missing from {root}")
        super().__init__(paths, values[keep][:, cols], [names[c] for c in cols], resolution, crop,
                         f"{csv_path} (split {split})", max_pixels)
        self.csv_path, self.split = csv_path, split
