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


@pytest.mark.parametrize("override,key", [
    ("optim.n_critic=0", "optim.n_critic"), ("train.batch_size=0", "train.batch_size"),
    ("train.batch_size=-1", "train.batch_size"), ("optim.g_lr=-1", "optim.g_lr"), ("optim.d_lr=0", "optim.d_lr"),
    ("train.log_every=0", "train.log_every"), ("optim.g_betas=[0.5]", "optim.g_betas"),
    ("optim.d_betas=[0.5, 1.5]", "optim.d_betas"), ("train.ema=1", "train.ema"), ("model.z_dim=0", "model.z_dim"),
])
def test_impossible_values_are_config_errors(override, key):
    with pytest.raises(ConfigError, match=rf"^{key}="):
        load_config("dcgan_fashion", [override])


def test_string_keys_take_the_override_text_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_config("dcgan_fashion", ["data.path=yes"]).data.path == "yes"
    assert load_config("dcgan_fashion", ["data.path=my #1 images"]).data.path == "my #1 images"
    assert load_config("dcgan_fashion", ["data.path=~/imgs"]).data.path == str(tmp_path / "imgs")
    assert load_config("dcgan_fashion", ["data.path=null"]).data.path is None
    assert load_config("dcgan_fashion", ["train.fid_every=9", "train.fid_ref='a b'"]).train.fid_ref == "a b"


def test_one_location_key_and_old_runs_with_root():
    cfg = load_config("aclgan_emoji", ["data.path=elsewhere/emoji"])
    assert cfg.data.name == "emoji" and cfg.data.path == "elsewhere/emoji"  # takes effect, not ignored
    with pytest.raises(ConfigError, match="unknown config key 'data.root'"):
        load_config("aclgan_emoji", ["data.root=x"])
    old = Config().to_dict()
    old["data"] = {**old["data"], "root": "data/emoji64", "name": "emoji"}
    del old["data"]["path"]
    assert config_from_dict(old).data.path == "data/emoji64"


def test_keys_the_recipe_or_source_does_not_read_are_errors():
    from gankit.data.sources import build_source
    from gankit.train.build import check_recipe_config

    with pytest.raises(ConfigError, match=r"loss.adversarial: recipe 'style' does not read the loss section"):
        check_recipe_config(load_config("style_fashion32", ["loss.adversarial=hinge"]))
    with pytest.raises(ConfigError, match=r"loss.r1_gamma: .*set recipe.kwargs.r1_gamma instead"):
        check_recipe_config(load_config("style_fashion32", ["loss.r1_gamma=5"]))
    with pytest.raises(ConfigError, match=r"recipe.kwargs.r1_gamma: recipe 'gan' takes it from loss.r1_gamma"):
        check_recipe_config(load_config("dcgan_fashion", ["recipe.kwargs.r1_gamma=5"]))
    with pytest.raises(ConfigError, match=r"model.z_dim: recipe 'stargan' has no noise input"):
        check_recipe_config(load_config("stargan_emoji", ["model.z_dim=64"]))
    with pytest.raises(ConfigError, match=r"optim.groups.Q: recipe 'gan' has no optimizer group 'Q'"):
        check_recipe_config(load_config("dcgan_fashion", ["optim.groups.Q.lr=0.1"]))
    with pytest.raises(ConfigError, match=r"data.attrs: dataset 'fashion_mnist' does not read it"):
        build_source(load_config("dcgan_fashion", ["data.attrs=[Male]"]).data)
    with pytest.raises(ConfigError, match=r"data.skip_bad: dataset 'emoji' does not read it"):
        build_source(load_config("aclgan_emoji", ["data.skip_bad=true"]).data)


def test_generator_kind_is_checked_before_building(tmp_path):
    from gankit.train.trainer import Trainer

    cfg = load_config("dcgan_fashion", ["model.generator.name=stargan", "data.name=synthetic", "train.device=cpu"])
    with pytest.raises(ConfigError, match=r"model.generator 'stargan' is an image-to-image generator, but this "
                                          r"recipe needs one of kind noise"):
        Trainer(cfg, tmp_path)


@pytest.mark.parametrize("override,msg", [
    ("optim.groups.Q.lr=-1", r"^optim.groups.Q.lr=-1: expected a number > 0"),
    ("optim.groups.Q.betas=[0.5]", r"^optim.groups.Q.betas=\[0.5\]: expected two numbers"),
    ("optim.groups.Q.momentum=1", r"^optim.groups.Q.momentum: unknown key"),
    ("optim.groups.Q=3", r"^optim.groups.Q: expected a mapping"),
])
def test_extra_optimizer_groups_are_checked_with_the_config(override, msg):
    with pytest.raises(ConfigError, match=msg):
        load_config("dcgan_fashion", [override])
