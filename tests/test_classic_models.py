import pytest
import torch

from gankit.errors import ConfigError
from gankit.models import DISCRIMINATORS, GENERATORS, build_net, rebuild_net

CLASSIC = ["mlp", "dcgan", "resnet"]
G_NORMS = {"mlp": ["none", "batch"], "dcgan": ["none", "batch", "instance", "adain"], "resnet": ["none", "batch", "instance", "adain"]}
D_NORMS = {"mlp": ["none", "spectral"], "dcgan": ["none", "batch", "instance", "layer", "spectral"],
           "resnet": ["none", "batch", "instance", "layer", "spectral"]}


def _g(name, res, norm, nc=0, **kw):
    spec = {"name": name, "norm": norm, "width": 8, **kw}
    return build_net(GENERATORS, "model.generator", spec, resolution=res, channels=3, z_dim=8, n_classes=nc)


def _d(name, res, norm, nc=0):
    return build_net(DISCRIMINATORS, "model.discriminator", {"name": name, "norm": norm, "width": 8}, resolution=res, channels=3, n_classes=nc)


@pytest.mark.parametrize("name", CLASSIC)
def test_generator_shapes_and_range_for_each_norm(name):
    for norm in G_NORMS[name]:
        extra = {"mapping_layers": 2} if norm == "adain" else {}
        g = _g(name, 32, norm, **extra)
        x = g(torch.randn(5, 8))
        assert x.shape == (5, 3, 32, 32), (name, norm)
        assert x.min() >= -1 and x.max() <= 1, (name, norm)


@pytest.mark.parametrize("name", CLASSIC)
def test_discriminator_shapes_for_each_norm(name):
    for norm in D_NORMS[name]:
        d = _d(name, 32, norm)
        out = d(torch.randn(5, 3, 32, 32))
        assert out.shape == (5,), (name, norm)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["dcgan", "resnet"])
@pytest.mark.parametrize("res", [32, 64, 128])
def test_resolutions(name, res):
    assert _g(name, res, "batch")(torch.randn(2, 8)).shape == (2, 3, res, res)
    assert _d(name, res, "spectral")(torch.randn(2, 3, res, res)).shape == (2,)


@pytest.mark.parametrize("name", CLASSIC)
def test_conditional_variants_use_the_label(name):
    g, d = _g(name, 32, "batch" if name != "mlp" else "none", nc=3).eval(), _d(name, 32, "spectral", nc=3).eval()
    z = torch.randn(4, 8)
    a, b = torch.zeros(4, dtype=torch.long), torch.full((4,), 2)
    assert not torch.allclose(g(z, a), g(z, b))
    x = torch.randn(4, 3, 32, 32)
    assert not torch.allclose(d(x, a), d(x, b))


def test_adain_styles_depend_on_z_per_sample():
    g = _g("dcgan", 32, "adain", mapping_layers=1).eval()
    for m in g.modules():  # make the affine maps non-trivial (they start at zero)
        if m.__class__.__name__ == "AdaIN":
            torch.nn.init.normal_(m.affine.weight, 0, 0.5)
    z = torch.randn(2, 8)
    both = g(z)
    assert torch.allclose(both[1:], g(z[1:]), atol=1e-5)  # batch independent (IN, not BN)


def test_spectral_norm_bounds_layer_gain():
    d = _d("dcgan", 32, "spectral")
    d.train()
    for _ in range(30):  # let power iteration converge
        d(torch.randn(2, 3, 32, 32))
    conv = d.out
    w = conv.weight.flatten(1)
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, rel=0.05)


def test_bad_network_config_is_one_line():
    with pytest.raises(ConfigError, match=r"model.generator.widht: unknown key.*did you mean 'width'"):
        build_net(GENERATORS, "model.generator", {"name": "dcgan", "widht": 3}, resolution=32, channels=1, z_dim=4, n_classes=0)
    with pytest.raises(ConfigError, match="unknown generator 'dcgn'"):
        build_net(GENERATORS, "model.generator", {"name": "dcgn"}, resolution=32, channels=1, z_dim=4, n_classes=0)
    with pytest.raises(ConfigError, match="resolution 48"):
        _g("dcgan", 48, "batch")
    with pytest.raises(ConfigError, match="model.generator.norm 'spectral'"):
        _g("dcgan", 32, "spectral")
    with pytest.raises(ConfigError, match="model.generator.width: expected int"):
        build_net(GENERATORS, "model.generator", {"name": "dcgan", "width": "wide"}, resolution=32, channels=1, z_dim=4, n_classes=0)


def test_rebuild_from_spec_gives_same_function():
    g = _g("resnet", 32, "batch").eval()
    g2 = rebuild_net(GENERATORS, g.gankit_spec).eval()
    g2.load_state_dict(g.state_dict())
    z = torch.randn(3, 8)
    assert torch.equal(g(z), g2(z))


def test_network_kwargs_types_are_checked_and_coerced():
    from gankit.models.base import validate_kwargs
    from gankit.models.dcgan import DCGANGenerator

    with pytest.raises(ConfigError, match=r"model.generator.width: expected int, got bool True"):
        validate_kwargs("model.generator", DCGANGenerator, {"width": True}, set())
    out = validate_kwargs("model.discriminator", __import__("gankit.models.mlp", fromlist=["x"]).MLPDiscriminator, {"dropout": 1}, set())
    assert out == {"dropout": 1.0} and isinstance(out["dropout"], float)
