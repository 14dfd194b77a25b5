import pytest

from gankit.config import Config, config_from_dict, diff_configs, load_config, preset_names
from gankit.errors import ConfigError

PRESETS = ["cgan_fashion", "dcgan_fashion", "lsgan_fashion", "mlp_gan_fashion", "sngan_fashion", "wgan_gp_fashion"]


def test_all_required_presets_exist_and_load():
    assert set(PRESETS) <= set(preset_names())
    for name in PRESETS:
        cfg = load_config(name)
        assert cfg.preset == name and cfg.description


def test_dotted_overrides_are_typed():
    cfg = load_config("dcgan_fashion", ["train.batch_size=128", "optim.g_lr=1e-3", "loss.gp_weight=5", "model.generator.width=32"])
    assert cfg.train.batch_size == 128 and isinstance(cfg.train.batch_size, int)
    assert cfg.optim.g_lr == pytest.approx(1e-3)
    assert cfg.loss.gp_weight == 5.0 and isinstance(cfg.loss.gp_weight, float)
    assert cfg.model.generator == {"name": "dcgan", "width": 32, "norm": "batch"}


def test_unknown_key_suggests_closest():
    with pytest.raises(ConfigError, match=r"unknown config key 'train.batch_sise'.*did you mean 'batch_size'"):
        load_config("dcgan_fashion", ["train.batch_sise=3"])
    with pytest.raises(ConfigError, match="did you mean 'optim'"):
        load_config(None, ["optm.g_lr=1"])


def test_wrong_type_is_one_line():
    with pytest.raises(ConfigError, match=r"train.batch_size: expected an integer, got 'big'") as e:
        load_config(None, ["train.batch_size=big"])
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="train.amp: 'fp8' is not one of none, bf16"):
        load_config(None, ["train.amp=fp8"])
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config(None, ["train.steps"])


def test_unknown_preset_and_missing_file():
    with pytest.raises(ConfigError, match=r"unknown preset 'dcgan_fashon'.*did you mean 'dcgan_fashion'"):
        load_config("dcgan_fashon")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("nowhere/cfg.yaml")


def test_yaml_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {batch_size: [1,\n")
    with pytest.raises(ConfigError, match=str(bad)):
        load_config(str(bad))
    typo = tmp_path / "typo.yaml"
    typo.write_text("train:\n  stepz: 3\n")
    with pytest.raises(ConfigError, match=r"typo.yaml: unknown config key 'train.stepz'"):
        load_config(str(typo))


def test_data_path_switches_any_preset_to_a_folder():
    cfg = load_config("wgan_gp_fashion", ["data.path=/some/dir"])
    assert cfg.data.name == "folder" and cfg.data.path == "/some/dir"


def test_roundtrip_and_diff():
    cfg = load_config("sngan_fashion", ["train.steps=7"])
    again = config_from_dict(cfg.to_dict())
    assert again == cfg
    other = load_config("sngan_fashion", ["train.steps=9", "optim.d_lr=0.1"])
    assert diff_configs(cfg.to_dict(), other.to_dict()) == ["optim.d_lr", "train.steps"]
    assert Config().train.device == "auto"
