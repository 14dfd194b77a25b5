"""The generator contract: every registered generator declares a kind and implements it."""

import inspect

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.models import GENERATORS, build_net
from gankit.models.contracts import is_kind, kind_of, require_kind, sample_noise

SHAPES = {"noise": {"resolution": 32, "channels": 3, "z_dim": 8, "n_classes": 0},
          "style": {"resolution": 16, "channels": 3, "z_dim": 8, "n_classes": 0},
          "image_to_image": {"resolution": 16, "channels": 3, "c_dim": 2}}
SMALL = {"dcgan": {"width": 4}, "resnet": {"width": 4}, "mlp": {"width": 8}, "stargan": {"width": 4, "n_res": 1},
         "style": {"width": 4, "w_dim": 8, "mapping_layers": 1, "max_channels": 8},
         "midinet": {"chord": False, "prev": False, "width": 4, "fc": 16}, "points_mlp": {"width": 8},
         "unet": {"width": 4}, "resnet_translator": {"width": 4, "n_blocks": 1},
         "srresnet": {"width": 4, "blocks": 1}, "context_encoder": {"width": 4, "max_width": 8}}
# Noise generators of other modalities: (shape arguments, output shape of 2 samples).
NOT_IMAGES = {"midinet": ({"z_dim": 8}, (2, 1, 16, 128)),
              "points_mlp": ({"resolution": 1, "channels": 2, "z_dim": 8, "n_classes": 0}, (2, 2))}


@pytest.mark.parametrize("name", GENERATORS.keys())
def test_every_registered_generator_declares_and_implements_its_kind(name):
    cls = GENERATORS.get(name)
    assert cls.kind in SHAPES, f"{name} declares no kind"
    shape = dict(SHAPES[cls.kind])
    if cls.kind == "image_to_image" and "c_dim" not in inspect.signature(cls.__init__).parameters:
        shape.pop("c_dim")  # a plain translator (pix2pix, CycleGAN): c_dim is 0 by construction
    if name == "mlp":
        shape["resolution"] = 28
    shape, expected = NOT_IMAGES.get(name, (shape, (2, 3, shape.get("resolution"), shape.get("resolution"))))
    net = build_net(GENERATORS, "model.generator", {"name": name, **SMALL.get(name, {})}, **shape)
    assert kind_of(net) == cls.kind
    if cls.kind in ("noise", "style"):
        assert is_kind(net, "noise") and not is_kind(net, "conditional")
        out = sample_noise(net, 2, torch.Generator().manual_seed(0))
        assert out.shape == expected
    else:
        assert not is_kind(net, "noise")


def test_conditional_is_a_property_of_the_instance():
    net = build_net(GENERATORS, "model.generator", {"name": "dcgan", "width": 4}, resolution=32, channels=1,
                    z_dim=4, n_classes=3)
    assert is_kind(net, "conditional") and kind_of(net) == "noise"


def test_a_class_that_claims_a_kind_it_lacks_is_refused():
    class Fake(nn.Module):
        kind = "style"
        z_dim, n_classes = 4, 0  # no mapping/synthesis: not a style generator

    with pytest.raises(ConfigError, match="declares kind 'style' but does not implement it"):
        kind_of(Fake())
    with pytest.raises(ConfigError, match=r"model.generator 'x' is a style generator, but this recipe needs one of "
                                          r"kind image_to_image"):
        require_kind(Fake, ("image_to_image",), "model.generator 'x'")
