"""Hostile inputs to the config reader and the network constructors: every failure is one line
naming the file or key, never a traceback from deep inside PyYAML or torch (issue 11)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import load_config, read_yaml
from gankit.errors import ConfigError
from gankit.models import DISCRIMINATORS, GENERATORS, build_net


def one_line(err: pytest.ExceptionInfo, *needles: str) -> str:
    msg = str(err.value)
    assert "\n" not in msg and len(msg) < 400, msg
    assert err.value.__cause__ is None, "the low-level exception must not be chained"
    for n in needles:
        assert n in msg, msg
    return msg


# ----------------------------------------------------------------------------- YAML configs
def _png_bytes(tmp_path) -> bytes:
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x.png")
    return (tmp_path / "x.png").read_bytes()


@pytest.mark.parametrize("case", ["random", "png", "latin1", "utf16", "control"])
def test_yaml_that_is_not_utf8_text_is_one_line_naming_the_file(tmp_path, case):
    data = {
        "random": bytes(np.random.default_rng(3).integers(0, 256, 200, dtype=np.uint8)),
        "png": _png_bytes(tmp_path),
        "latin1": "description: caf\xe9 au lait\n".encode("latin-1"),
        "utf16": "train: {steps: 5}\n".encode("utf-16"),
        "control": b"train:\n  steps: 5\x07\n",
    }[case]
    path = tmp_path / "cfg.yaml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    one_line(e, str(path))
    msg = str(e.value)
    assert "UTF-8" in msg or "YAML" in msg
    if case == "latin1":
        assert "line 1" in msg and "0xe9" in msg


@pytest.mark.parametrize("text,got", [("- a\n- b\n", "a list"), ("hello\n", "str"), ("42\n", "int"), ("false\n", "bool")])
def test_yaml_whose_top_level_is_not_a_mapping(tmp_path, text, got):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        read_yaml(path)
    one_line(e, str(path), "mapping", got)


def test_yaml_with_a_bom_and_an_empty_yaml_are_fine(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbftrain: {steps: 7}\n")
    assert load_config(str(path)).train.steps == 7
    (tmp_path / "empty.yaml").write_text("")
    assert read_yaml(tmp_path / "empty.yaml") == {}


def test_yaml_path_that_is_a_folder_or_too_deep_or_huge(tmp_path):
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(ConfigError) as e:
        load_config(str(tmp_path / "dir.yaml"))
    one_line(e, "dir.yaml", "folder")
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 50_000 + "]" * 50_000)
    with pytest.raises(ConfigError) as e:
        read_yaml(deep)
    one_line(e, str(deep))
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (2 << 20) + b"\n")
    with pytest.raises(ConfigError) as e:
        read_yaml(big)
    one_line(e, str(big), "too large")


def test_cli_prints_one_line_for_a_binary_config(tmp_path, capsys):
    from gankit.cli.main import main

    path = tmp_path / "photo.yaml"
    path.write_bytes(_png_bytes(tmp_path))
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error: ") and str(path) in err and "\n" not in err


# ----------------------------------------------------------------------- network sizes
# Networks of other modalities: the shape arguments their recipes inject, and (input, output
# shape) of a forward pass on 2 items (generators: input = z).
OTHER_MODALITIES = {
    ("generator", "midinet"): ({"z_dim": 8}, (torch.randn(2, 8), (2, 1, 16, 128))),
    ("discriminator", "midinet"): ({}, (torch.zeros(2, 1, 16, 128), (2,))),
    ("generator", "points_mlp"): ({"resolution": 1, "channels": 2, "z_dim": 8}, (torch.randn(2, 8), (2, 2))),
    ("discriminator", "points_mlp"): ({"resolution": 1, "channels": 2}, (torch.zeros(2, 2), (2,))),
    ("generator", "srresnet"): ({"resolution": 32, "channels": 3}, (torch.zeros(2, 3, 8, 8), (2, 3, 32, 32))),  # 4x output
}


def _injected(registry, name: str) -> dict:
    if (registry.name, name) in OTHER_MODALITIES:
        return dict(OTHER_MODALITIES[registry.name, name][0])
    cls = registry.get(name)
    params = inspect.signature(cls.__init__).parameters
    if "c_dim" in params:  # image-to-image editors and their discriminators
        return {"resolution": 64, "channels": 3, "c_dim": 2}
    inj = {"resolution": 32, "channels": 3}
    if "z_dim" in params:
        inj["z_dim"] = 8
    return inj


def _small(registry, name: str) -> dict:
    """Keyword arguments that keep each network tiny (so a 0 that builds is cheap)."""
    params = inspect.signature(registry.get(name).__init__).parameters
    out = {}
    for k, v in (("width", 4), ("max_width", 16), ("max_channels", 16), ("w_dim", 8)):
        if k in params:
            out[k] = v
    return out


def _int_params(registry, name: str, injected: dict):
    cls = registry.get(name)
    for k, p in inspect.signature(cls.__init__).parameters.items():
        if k in ("self", *injected) or isinstance(p.default, bool) or not isinstance(p.default, int):
            continue
        yield k


NETS = [(reg, name) for reg in (GENERATORS, DISCRIMINATORS) for name in reg.keys()]


@pytest.mark.parametrize("reg,name", NETS, ids=[f"{r.name}-{n}" for r, n in NETS])
def test_every_int_argument_of_every_network_is_checked(reg, name):
    """-1 for any int argument is a one-line ConfigError naming the section and the argument; 0
    either fails the same way or builds a network that runs."""
    injected = _injected(reg, name)
    where = f"model.{reg.name}"
    checked = list(_int_params(reg, name, injected))
    assert checked, f"{name}: no int arguments found"
    for key in checked:
        for value in (-1, 0):
            spec = {"name": name, **_small(reg, name), key: value}
            try:
                net = build_net(reg, where, spec, **injected)
            except ConfigError as e:
                msg = str(e)
                assert "\n" not in msg and msg.startswith(f"{where} ({name})") and key in msg, msg
                continue
            assert value == 0, f"{name}.{key}=-1 was accepted"
            _runs(net, injected, (reg.name, name))


def _runs(net: torch.nn.Module, injected: dict, key: tuple[str, str]) -> None:
    net.eval()
    with torch.no_grad():
        if key in OTHER_MODALITIES:
            x, shape = OTHER_MODALITIES[key][1]
            assert net(x).shape == shape
            return
    r, c = injected["resolution"], injected["channels"]
    with torch.no_grad():
        if "z_dim" in injected:
            out = net(torch.randn(2, net.z_dim))  # InfoGAN's latent is longer than its noise (z_dim)
            assert out.shape == (2, c, r, r)
        elif getattr(net, "kind", None) == "image_to_image":
            c_in = torch.zeros(2, injected["c_dim"]) if "c_dim" in injected else None  # plain translators: no c
            out = net(torch.zeros(2, c, r, r), c_in)
            assert out.shape == (2, c, r, r)
        elif "c_dim" in injected:
            net(torch.zeros(2, c, r, r))
        else:
            assert net(torch.zeros(2, c, r, r)).shape == (2,)


@pytest.mark.parametrize("override,needle", [
    ("model.generator.width=0", "width must be >= 1, got 0"),
    ("model.generator.width=-4", "width must be >= 1, got -4"),
    ("model.discriminator.width=0", "width must be >= 1, got 0"),
    ("model.generator.mapping_layers=-1", "mapping_layers must be >= 0, got -1"),
])
def test_impossible_sizes_from_the_config_are_one_line(tiny, override, needle):
    from gankit.train.trainer import Trainer

    cfg = tiny("dcgan_fashion", override)
    with pytest.raises(ConfigError) as e:
        Trainer(cfg, "unused-run-dir")
    one_line(e, needle, override.split(".")[1])


def test_style_mapping_layers_0_and_w_dim_0(tiny):
    for override, needle in (("model.generator.mapping_layers=0", "mapping_layers must be >= 1, got 0"),
                             ("model.generator.w_dim=0", "w_dim must be >= 1, got 0")):
        with pytest.raises(ConfigError) as e:
            build_net(GENERATORS, "model.generator", {"name": "style", override.split(".")[-1].split("=")[0]: 0},
                      resolution=32, channels=3, z_dim=8)
        one_line(e, "model.generator (style)", needle)


def test_a_width_too_large_for_memory_is_one_line():
    # MLP: the first layer is small (8 x 10^6), the second (10^6 x 10^6 floats, 4 TB) cannot be allocated
    with pytest.raises(ConfigError) as e:
        build_net(GENERATORS, "model.generator", {"name": "mlp", "width": 10**6}, resolution=32, channels=3, z_dim=8)
    one_line(e, "model.generator (mlp)", "do not fit in memory", "width=1000000")
