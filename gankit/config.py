"""Typed run configuration: dataclasses, YAML presets, dotted overrides, strict validation.

A config is loaded from a preset name (``gankit/configs/NAME.yaml``) or a YAML path, then
``key.sub=value`` overrides are applied. Unknown keys and wrongly typed values are one-line
:class:`~gankit.errors.ConfigError`s naming the key and suggesting the closest valid one.
Network sections (``model.generator`` / ``model.discriminator``) and ``recipe.kwargs`` are
free-form dicts validated later against the constructor they configure.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gankit.errors import ConfigError
from gankit.registry import did_you_mean

PRESET_DIR = Path(__file__).parent / "configs"


@dataclass
class DataConfig:
    name: str = "fashion_mnist"  # fashion_mnist | folder | synthetic | emoji | celeba | attributes
    # Where the data lives, the one location key: an image folder (folder), a dataset's folder
    # (emoji, celeba) or CSV file (attributes). Given as an override on a fashion_mnist preset
    # (without data.name), it switches the source to 'folder' (train it on your images).
    path: str | None = None
    split: str = "train"
    resolution: int = 32
    channels: int = 1
    labels: bool = False  # use class labels (folder: sub-folder names)
    center_crop: bool = True
    hflip: bool = False
    skip_bad: bool = False
    # Largest image (width x height) the decoder opens; a bigger one is a bad file (a
    # decompression bomb, or a photo far too large). 0 = no limit. Default: Pillow's own limit.
    max_pixels: int = 89_478_485
    resident: str = "auto"  # auto | true | false: decode once into a uint8 tensor on the device
    resident_max_gb: float = 4.0
    num_workers: int = 2
    limit: int = 0  # use only the first N images (0 = all)
    attrs: list[str] = field(default_factory=list)  # attribute datasets: which attributes
    domains: list[str] = field(default_factory=list)  # translation sources: [A, B] (emoji styles, Fashion-MNIST classes)


@dataclass
class ModelConfig:
    z_dim: int = 100
    generator: dict[str, Any] = field(default_factory=lambda: {"name": "dcgan"})
    discriminator: dict[str, Any] = field(default_factory=lambda: {"name": "dcgan"})
    nets: dict[str, Any] = field(default_factory=dict)  # role -> {name, ...}: a recipe's further networks (e.g. Q)


@dataclass
class LossConfig:
    adversarial: str = "nonsaturating"  # minimax | nonsaturating | lsgan | wgan | hinge | rpgan (relativistic)
    gp_weight: float = 0.0  # WGAN-GP lambda (10 in the paper); 0 = off
    r1_gamma: float = 0.0  # R1 gamma (zero-centred penalty on reals, weight gamma/2); 0 = off
    r1_interval: int = 16  # lazy R1 (and R2): every N D steps, scaled by N
    clip: float = 0.0  # WGAN weight clipping c (0.01 in the paper); 0 = off
    r2_gamma: float = 0.0  # R2 gamma (zero-centred penalty on fakes, weight gamma/2; R3GAN: = r1_gamma); 0 = off


@dataclass
class OptimConfig:
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    g_betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    d_betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    n_critic: int = 1  # repeats of the D phase per step
    lr_decay_start: int = 0  # linear decay to 0 from this step to the end (0 = constant)
    groups: dict[str, Any] = field(default_factory=dict)  # a recipe's further optimizer groups: NAME: {lr, betas}


@dataclass
class TrainConfig:
    steps: int = 10000  # total G steps of the run
    batch_size: int = 64
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "none"  # none | bf16 (autocast on CUDA)
    channels_last: bool = False
    compile: bool = False
    ema: float = 0.999  # EMA decay of G's weights; 0 = off
    ema_start: int = 0
    sample_every: int = 500
    n_samples: int = 64
    ckpt_every: int = 1000
    ckpt_minutes: float = 10.0  # also checkpoint when this many minutes passed since the last one (0 = off)
    max_time: str = ""  # wall-clock budget (3h50m, 90m, 45s or seconds): save and stop before it runs out
    keep_last: int = 3
    log_every: int = 50
    nan_policy: str = "stop"  # stop | rollback
    max_rollbacks: int = 3  # rollbacks in the whole run (they count across reloads and resumes)
    rollback_lr_factor: float = 0.5  # each rollback multiplies every learning rate by this (1 = unchanged)
    rollback_skip_data: bool = True  # a rollback skips the batches that led to the divergence
    progress: bool = True
    fid_every: int = 0  # periodic cheap FID of the EMA generator every N steps (0 = off); keeps a 'best' checkpoint
    fid_samples: int = 5000
    fid_ref: str = ""  # fashion-mnist[:split], an image folder or a mu/sigma .npz; default: the training data
    # Collapse monitor: every N steps log the diversity ratio of generated vs real samples and
    # warn when it falls below collapse_drop x its peak, or stays below collapse_floor at two
    # consecutive checks (0 = off; see gankit/train/collapse.py)
    collapse_every: int = 1000
    collapse_samples: int = 256
    collapse_drop: float = 0.5
    collapse_floor: float = 0.35
    # torchrun (see gankit/train/distributed.py): how gradients are averaged over ranks
    # (grads: one all_reduce per phase; wrapper: DistributedDataParallel), and batch norm
    # statistics over the global batch (CUDA only)
    ddp: str = "grads"
    sync_bn: bool = False


@dataclass
class RecipeConfig:
    name: str = "gan"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Config:
    preset: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    recipe: RecipeConfig = field(default_factory=RecipeConfig)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_CHOICES = {
    "train.amp": ("none", "bf16"),
    "train.nan_policy": ("stop", "rollback"),
    "train.ddp": ("grads", "wrapper"),
    "data.resident": ("auto", "true", "false"),
}

# Valid ranges of numeric keys: (low, high, low inclusive, high inclusive); None = unbounded.
_BOUNDS: dict[str, tuple[float | None, float | None, bool, bool]] = {
    "data.resolution": (1, None, True, True), "data.channels": (1, None, True, True),
    "data.resident_max_gb": (0, None, True, True), "data.num_workers": (0, None, True, True),
    "data.limit": (0, None, True, True),
    "model.z_dim": (1, None, True, True),
    "loss.gp_weight": (0, None, True, True), "loss.r1_gamma": (0, None, True, True),
    "loss.r1_interval": (1, None, True, True), "loss.clip": (0, None, True, True), "loss.r2_gamma": (0, None, True, True),
    "optim.g_lr": (0, None, False, True), "optim.d_lr": (0, None, False, True),
    "optim.n_critic": (1, None, True, True), "optim.lr_decay_start": (0, None, True, True),
    "train.steps": (1, None, True, True), "train.batch_size": (1, None, True, True),
    "train.ema": (0, 1, True, False), "train.ema_start": (0, None, True, True),
    "train.sample_every": (0, None, True, True), "train.n_samples": (1, None, True, True),
    "train.ckpt_every": (0, None, True, True), "train.keep_last": (0, None, True, True),
    "train.ckpt_minutes": (0, None, True, True), "train.rollback_lr_factor": (0, 1, False, True),
    "train.log_every": (1, None, True, True), "train.max_rollbacks": (0, None, True, True),
    "train.fid_every": (0, None, True, True), "train.fid_samples": (2, None, True, True),
    "train.collapse_every": (0, None, True, True), "train.collapse_samples": (2, None, True, True),
    "train.collapse_drop": (0, 1, False, False), "train.collapse_floor": (0, 1, True, False),
}
_BETAS = ("optim.g_betas", "optim.d_betas")
# String keys that name files or folders: '~' is expanded.
_PATH_KEYS = ("data.path", "train.fid_ref")


_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str | float | int, key: str = "train.max_time") -> float:
    """'3h50m', '90m', '1.5h', '45s', '3600' (seconds) -> seconds; '' or 0 -> 0 (no limit)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        s = str(text).strip().lower().replace(" ", "")
        if s in ("", "0", "none", "off"):
            return 0.0
        try:
            value = float(s)
        except ValueError:
            parts = re.findall(r"(\d+(?:\.\d+)?)([dhms])", s)
            if not parts or "".join(n + u for n, u in parts) != s:
                raise ConfigError(f"{key}={text!r}: expected a duration such as 3h50m, 90m, 1.5h, 45s or seconds") from None
            value = sum(float(n) * _UNITS[u] for n, u in parts)
    if value < 0:
        raise ConfigError(f"{key}={text!r}: expected a duration >= 0")
    return value


def _check_dependent_keys(cfg: "Config") -> None:
    """A key set while the key it depends on turns its feature off would have no effect."""
    t, d = cfg.train, TrainConfig()
    if t.fid_ref and not t.fid_every:
        raise ConfigError("train.fid_ref: periodic FID is off (train.fid_every=0); set train.fid_every=N to use it")
    for k in ("collapse_samples", "collapse_drop", "collapse_floor"):
        if getattr(t, k) != getattr(d, k) and not t.collapse_every:
            raise ConfigError(f"train.{k}: the collapse monitor is off (train.collapse_every=0); set train.collapse_every=N")
    if t.ema_start != d.ema_start and not t.ema:
        raise ConfigError("train.ema_start: the EMA is off (train.ema=0); set train.ema (e.g. 0.999) to use it")
    if t.nan_policy == "stop":
        for k in ("max_rollbacks", "rollback_lr_factor", "rollback_skip_data"):
            if getattr(t, k) != getattr(d, k):
                raise ConfigError(f"train.{k}: rollbacks are off (train.nan_policy=stop); set train.nan_policy=rollback")


def _range_text(lo, hi, lo_inc, hi_inc) -> str:
    if hi is None:
        return f"{'>=' if lo_inc else '>'} {lo:g}"
    return f"in {'[' if lo_inc else '('}{lo:g}, {hi:g}{']' if hi_inc else ')'}"


def validate(cfg: "Config") -> "Config":
    """Check every numeric key against its valid range (one-line ConfigError naming the key)."""
    d = cfg.to_dict()
    for key, (lo, hi, lo_inc, hi_inc) in _BOUNDS.items():
        sec, name = key.split(".")
        v = d[sec][name]
        bad = (lo is not None and (v < lo if lo_inc else v <= lo)) or (hi is not None and (v > hi if hi_inc else v >= hi))
        if bad:
            raise ConfigError(f"{key}={v}: expected a value {_range_text(lo, hi, lo_inc, hi_inc)}")
    parse_duration(cfg.train.max_time)  # a bad duration fails at load time, naming the key
    _check_dependent_keys(cfg)
    for key in _BETAS:
        _check_betas(key, d["optim"][key.split(".")[1]])
    for name, group in cfg.optim.groups.items():  # a recipe's further optimizer groups
        where = f"optim.groups.{name}"
        if not isinstance(group, dict):
            raise ConfigError(f"{where}: expected a mapping {{lr: ..., betas: [...]}}, got {group!r}")
        unknown = sorted(set(group) - {"lr", "betas"})
        if unknown:
            raise ConfigError(f"{where}.{unknown[0]}: unknown key; valid keys: lr, betas")
        lr = group.get("lr", cfg.optim.g_lr)
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or lr <= 0:
            raise ConfigError(f"{where}.lr={lr!r}: expected a number > 0")
        _check_betas(f"{where}.betas", group.get("betas", cfg.optim.g_betas))
    return cfg


def _check_betas(key: str, v: Any) -> None:
    if (not isinstance(v, (list, tuple)) or len(v) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in v)):
        raise ConfigError(f"{key}={v}: expected two numbers in [0, 1), e.g. [0.5, 0.999]")


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Return ``value`` as type ``tp`` or raise a one-line ConfigError."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", object)):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(key, value, inner[0])
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(f"{key}[{i}]", v, args[0]) for i, v in enumerate(value)] if args else list(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads '1e-3' as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, bool):  # YAML reads 'true' as bool; some str keys accept it
            value = "true" if value else "false"
        if isinstance(value, (int, float)):
            value = str(value)
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        if key in _CHOICES and value not in _CHOICES[key]:
            raise ConfigError(f"{key}: '{value}' is not one of {', '.join(_CHOICES[key])}")
        return value
    return value


def _is_text(tp: Any) -> bool:
    """str or Optional[str]: keys whose override text is taken as written."""
    if tp is str:
        return True
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and str in typing.get_args(tp)


def _set(obj: Any, dotted: str, value: Any, prefix: str = "", raw: str | None = None) -> None:
    """Set ``dotted`` inside ``obj``. ``raw``: the override's text as typed, used as-is for
    string-typed keys (so ``data.path=yes`` or a folder named ``my #1`` stay text)."""
    head, _, rest = dotted.partition(".")
    where = f"{prefix}{head}"
    if isinstance(obj, dict):
        if rest:
            sub = obj.setdefault(head, {})
            if not isinstance(sub, dict):
                raise ConfigError(f"{where}: is a value, cannot set '{rest}' inside it")
            _set(sub, rest, value, where + ".", raw)
        else:
            obj[head] = value
        return
    fields = {f.name: f for f in dataclasses.fields(obj)}
    if head not in fields:
        raise ConfigError(f"unknown config key '{where}'{did_you_mean(head, list(fields))}; valid keys here: {', '.join(fields)}")
    hints = typing.get_type_hints(type(obj))
    current = getattr(obj, head)
    if rest:
        if not (dataclasses.is_dataclass(current) or isinstance(current, dict)):
            raise ConfigError(f"{where}: is a value, cannot set '{rest}' inside it")
        _set(current, rest, value, where + ".", raw)
    elif dataclasses.is_dataclass(current):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping of its keys, got {value!r}")
        for k, v in value.items():
            _set(current, k, v, where + ".")
    else:
        tp = hints[head]
        quoted = raw is not None and len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\""
        if raw is not None and not quoted and _is_text(tp) and raw.strip() not in ("null", ""):
            value = raw
        value = _coerce(where, value, tp)
        if where in _PATH_KEYS and isinstance(value, str):
            value = os.path.expanduser(value)
        setattr(obj, head, value)


def apply_mapping(cfg: Config, mapping: dict[str, Any], source: str = "") -> Config:
    """Apply a nested mapping (e.g. parsed YAML) onto ``cfg`` with validation."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"{source or 'config'}: expected a YAML mapping at the top level")
    for k, v in mapping.items():
        try:
            _set(cfg, str(k), v)
        except ConfigError as e:
            raise ConfigError(f"{source}: {e}" if source else str(e)) from None
    return cfg


def parse_override(text: str) -> tuple[str, Any]:
    """'train.batch_size=128' -> ('train.batch_size', 128); the value is parsed as YAML (string
    keys take the text as written: see :func:`load_config`)."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"override '{text}': expected key=value, e.g. train.batch_size=128")
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


_MAX_YAML_BYTES = 1 << 20  # a config is a few kB; a file of a megabyte is something else


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML config file into a mapping (an empty file is an empty mapping).

    The file must be UTF-8 text (a BOM is allowed) whose top level is a mapping of keys. A
    folder, a binary file (an image renamed .yaml), another encoding, invalid YAML or a
    top-level list or scalar is a one-line ConfigError naming the file (and line)."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ConfigError(f"{path}: is a folder; expected a YAML config file")
        size = path.stat().st_size
        if size > _MAX_YAML_BYTES:
            raise ConfigError(f"{path}: {size} bytes is too large for a YAML config file (at most {_MAX_YAML_BYTES}); "
                              "is it the right file?")
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None
    if b"\x00" in raw:
        raise ConfigError(f"{path}: holds NUL bytes, so it is a binary file (or UTF-16 text); "
                          "expected a UTF-8 YAML config file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ConfigError(f"{path} line {line}: byte 0x{raw[e.start]:02x} is not UTF-8; expected a UTF-8 YAML config "
                          "file (a binary file, or text saved in another encoding: re-save it as UTF-8)") from None
    try:
        data = yaml.safe_load(text)
    except yaml.reader.ReaderError as e:  # control characters: binary data that happens to be valid UTF-8
        line = text[: max(e.position, 0)].count("\n") + 1
        char = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        raise ConfigError(f"{path} line {line}: character {char} is not allowed in YAML ({e.reason}); "
                          "expected a UTF-8 YAML config file") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = (getattr(e, "problem", None) or str(e)).strip().splitlines() or ["?"]
        raise ConfigError(f"{path}{where}: invalid YAML ({problem[0][:200]})") from None
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply for a config file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        got = "a list" if isinstance(data, list) else f"a single {type(data).__name__} value ({str(data)[:40]!r})"
        raise ConfigError(f"{path}: expected a mapping of config keys at the top level "
                          f"(e.g. 'train: {{steps: 1000}}'), got {got}")
    return data


def load_config(preset_or_path: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Build a Config from a preset name or YAML path plus ``key=value`` overrides."""
    cfg = Config()
    if preset_or_path:
        path = Path(preset_or_path)
        if path.suffix.lower() in (".yaml", ".yml") or path.exists():
            if path.is_dir():
                raise ConfigError(f"config file '{path}' is a folder; expected a preset name or a YAML file")
            if not path.is_file():
                raise ConfigError(f"config file '{path}' does not exist")
            apply_mapping(cfg, read_yaml(path), str(path))
            cfg.preset = cfg.preset or path.stem
        else:
            names = preset_names()
            if preset_or_path not in names:
                raise ConfigError(f"unknown preset '{preset_or_path}'{did_you_mean(preset_or_path, names)}; run 'gankit presets' to list them")
            apply_mapping(cfg, read_yaml(PRESET_DIR / f"{preset_or_path}.yaml"), f"preset {preset_or_path}")
            cfg.preset = preset_or_path
    keys = set()
    for text in overrides:
        key, value = parse_override(text)
        _set(cfg, key, value, raw=text.partition("=")[2])
        keys.add(key)
    if "data.path" in keys and "data.name" not in keys and cfg.data.path and cfg.data.name == "fashion_mnist":
        cfg.data.name = "folder"  # data.path=DIR trains a Fashion-MNIST preset on the user's images
    return validate(cfg)


def config_from_dict(d: dict[str, Any]) -> Config:
    """Rebuild a Config from ``Config.to_dict()`` output (as stored in run dirs and checkpoints).

    Runs written before data.root was merged into data.path are read with root as the path."""
    d = dict(d)
    data = dict(d.get("data", {}))
    if "root" in data:
        root = data.pop("root")
        data["path"] = data.get("path") or root
        d["data"] = data
    return validate(apply_mapping(Config(), d))


def diff_configs(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts."""
    keys = sorted(set(a) | set(b))
    out: list[str] = []
    for k in keys:
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += diff_configs(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}")
    return out


def save_yaml(cfg: Config, path: Path) -> None:
    from gankit.io import write_text_atomic

    write_text_atomic(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
