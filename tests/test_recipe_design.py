"""The recipe/phase design carries methods beyond "one G vs one D on one image batch".

The proof: a recipe with three networks in two optimizer groups and a G-only warm-up phase,
over a source with paired fields, trains, checkpoints and resumes bit-exactly through the
unchanged trainer. Also: every built-in recipe resumes bit-exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import pytest

from gankit.data.base import Batch
from gankit.data.stream import BatchStream
from gankit.data.synthetic import SyntheticAttributes, make_images
from gankit.errors import ConfigError
from gankit.models import DISCRIMINATORS, GENERATORS
from gankit.recipes.base import RECIPES, NetSpec, Phase, Recipe, grid_cols
from gankit.train.state import load_checkpoint
from gankit.train.trainer import Trainer

R = 8


class PairedSource(torch.utils.data.Dataset):
    """x: a blob image; y: its colour negative (a pixel-wise paired target), as uint8 [3, R, R]."""

    fields = (("x", "image"), ("y", "image"))
    resolution, channels = R, 3

    def __init__(self, n: int = 16):
        self.x, _ = make_images(n, R, 3, seed=5)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], 255 - self.x[i]


AttrSource = SyntheticAttributes  # blob images with 3 random binary attributes


if "test_translator" not in GENERATORS:
    @GENERATORS.register("test_translator")
    class Translator(nn.Module):
        kind = "image_to_image"

        def __init__(self, resolution: int, channels: int, width: int = 4):
            super().__init__()
            self.c_dim = 0
            self.net = nn.Sequential(nn.Conv2d(channels, width, 3, 1, 1), nn.ReLU(), nn.Conv2d(width, channels, 3, 1, 1))

        def forward(self, x: Tensor, c: Tensor | None = None, parts: bool = False) -> Tensor:
            return torch.tanh(self.net(x))

    @DISCRIMINATORS.register("test_pair_d")
    class PairD(nn.Module):
        def __init__(self, resolution: int, channels: int, width: int = 4):
            super().__init__()
            self.net = nn.Sequential(nn.Conv2d(2 * channels, width, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(width, 1, 3, 1, 1))

        def forward(self, x: Tensor, y: Tensor) -> Tensor:
            return self.net(torch.cat([x, y], 1)).flatten(1).mean(1)

    @DISCRIMINATORS.register("test_q")
    class QHead(nn.Module):
        """Predicts the mean brightness of an output image (an auxiliary head, as InfoGAN's Q)."""

        def __init__(self, channels: int):
            super().__init__()
            self.fc = nn.Linear(channels, 1)

        def forward(self, x: Tensor) -> Tensor:
            return self.fc(x.mean((2, 3))).squeeze(1)


if "test_three_nets" not in RECIPES:
    @RECIPES.register("test_three_nets")
    class ThreeNets(Recipe):
        """pix2pix-like: G and Q share group G; D alone in group D; G-only L1 warm-up first."""

        nets_spec = {
            "G": NetSpec(GENERATORS, "model.generator", ("resolution", "channels"), ("image_to_image",)),
            "D": NetSpec(DISCRIMINATORS, "model.discriminator", ("resolution", "channels")),
            "Q": NetSpec(DISCRIMINATORS, "model.nets.Q", ("channels",), default={"name": "test_q"}),
        }
        groups = {"G": ("G", "Q"), "D": ("D",)}
        uses_n_critic = False

        def __init__(self, nets, rng, warmup: int = 2, lambda_l1: float = 10.0):
            super().__init__(nets, rng)
            self.warmup, self.lambda_l1 = warmup, lambda_l1

        def phases(self) -> list[Phase]:
            return [Phase("warm", "G", self.warm_step, stop=self.warmup),
                    Phase("d", "D", self.d_step, start=self.warmup),
                    Phase("g", "G", self.g_step, new_batch=False, start=self.warmup)]

        def _q_loss(self, fake: Tensor, y: Tensor) -> Tensor:
            return F.mse_loss(self.nets["Q"](fake), y.mean((1, 2, 3)))

        def warm_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
            fake = self.G(batch.x + 0.01 * self.randn(*batch.x.shape))
            l1 = F.l1_loss(fake, batch.y)
            q = self._q_loss(fake, batch.y)
            return {"total": l1 + q, "l1": l1.detach(), "q": q.detach()}

        def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
            with torch.no_grad():
                fake = self.G(batch.x)
            d = F.softplus(-self.D(batch.x, batch.y)).mean() + F.softplus(self.D(batch.x, fake)).mean()
            return {"total": d}

        def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
            fake = self.G(batch.x)
            adv = F.softplus(-self.D(batch.x, fake)).mean()
            l1 = F.l1_loss(fake, batch.y)
            total = adv + self.lambda_l1 * l1 + self._q_loss(fake, batch.y)
            return {"total": total, "g_adv": adv.detach(), "l1": l1.detach()}

        def sample(self, n, rng, inputs=None):
            return self.G(inputs.x[:n].to(self.device))

        def preview_inputs(self, source, n, seed):
            k = min(n, len(source))
            return Batch(x=torch.stack([source[i][0] for i in range(k)]).float() / 127.5 - 1,
                         y=torch.stack([source[i][1] for i in range(k)]).float() / 127.5 - 1)

        def preview(self, inputs):
            x = inputs.x.to(self.device)
            return torch.stack([x, self.G(x), inputs.y.to(self.device)], 1).flatten(0, 1).cpu(), 3


def _three_cfg(tiny, steps: int, *extra: str):
    return tiny(None, "recipe.name=test_three_nets", "model.generator={name: test_translator}",
                "model.discriminator={name: test_pair_d}", "data.resolution=8", "data.hflip=true",
                "train.ema=0.9", "train.sample_every=2", "model.z_dim=100", f"train.steps={steps}", *extra)


def test_three_networks_two_groups_warmup_resume_bit_exact(tiny, tmp_path):
    src = PairedSource()
    full = Trainer(_three_cfg(tiny, 4), tmp_path / "full", source=src)
    d0 = {k: v.clone() for k, v in full.nets["D"].state_dict().items()}
    q0 = {k: v.clone() for k, v in full.nets["Q"].state_dict().items()}
    assert [p.name for p in full.phases if p.active(0)] == ["warm"]
    assert [p.name for p in full.phases if p.active(2)] == ["d", "g"]
    assert set(full.opts) == {"G", "D"} and len(full.opts["G"].param_groups[0]["params"]) == 6  # G (4) + Q (2)
    full.fit()
    half = Trainer(_three_cfg(tiny, 2), tmp_path / "half", source=src)
    half.fit()
    # the warm-up trains G and Q, never D
    assert all(torch.equal(d0[k], v) for k, v in half.nets["D"].state_dict().items())
    assert any(not torch.equal(q0[k], v) for k, v in half.nets["Q"].state_dict().items())
    Trainer(_three_cfg(tiny, 4), tmp_path / "half", resume=True, source=src).fit()
    ta, sa = load_checkpoint(tmp_path / "full")
    tb, sb = load_checkpoint(tmp_path / "half")
    assert {k.split(".")[0] for k in ta} == {"G", "D", "Q", "G_ema"}
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k
    assert sa["optim"].keys() == {"G", "D"} and sa["data"] == sb["data"] == {"consumed": 4}  # 2 warm + 2 d (g reuses d's batch)
    log = (tmp_path / "full" / "metrics.jsonl").read_text()
    assert '"warm_total"' in log and '"d_total"' in log and '"g_adv"' in log
    assert (tmp_path / "full" / "samples" / "latest.png").is_file()


def test_paired_fields_flip_together():
    src = PairedSource(8)
    stream = BatchStream(src, 4, seed=1, resident=False, hflip=True, num_workers=0)
    flips = stream.batch_flips(0)
    b = next(stream)
    assert set(b.keys()) == {"x", "y"} and b.x.shape == b.y.shape == (4, 3, R, R)
    assert flips.any() and not flips.all()  # seed chosen so both cases occur
    assert torch.allclose(b.y, -b.x, atol=1e-5)  # 255 - x maps to -x in [-1, 1]: the pairing survives flips
    resident = next(BatchStream(src, 4, seed=1, resident=True, hflip=True))
    assert torch.equal(resident.x, b.x) and torch.equal(resident.y, b.y)


def test_unknown_phase_group_and_extra_net_key_are_config_errors(tiny, tmp_path):
    with pytest.raises(ConfigError, match=r"model.nets.P: recipe 'test_three_nets' has no network 'P'"):
        Trainer(_three_cfg(tiny, 1, "model.nets.P={name: test_q}"), tmp_path, source=PairedSource())
    with pytest.raises(ConfigError, match=r"optim.n_critic: recipe 'test_three_nets' has no repeated critic phase"):
        Trainer(_three_cfg(tiny, 1, "optim.n_critic=2"), tmp_path, source=PairedSource())
    with pytest.raises(ConfigError, match=r"recipe.kwargs.warmpu: unknown key \(did you mean 'warmup'\?\)"):
        Trainer(_three_cfg(tiny, 1, "recipe.kwargs.warmpu=3"), tmp_path, source=PairedSource())


ATTR_TINY = ["model.generator.width=4", "model.generator.n_res=1", "model.discriminator.width=4",
             "model.discriminator.n_layers=2", "data.resolution=16", "data.path=null", "data.attrs=[]",
             "train.batch_size=4", "train.log_every=1", "train.sample_every=0", "train.ckpt_every=0",
             "train.progress=false", "train.device=cpu", "data.num_workers=0", "optim.n_critic=2"]
STYLE_TINY = ["model.z_dim=8", "model.generator.w_dim=8", "model.generator.mapping_layers=1",
              "model.generator.max_channels=8", "model.generator.width=4", "model.discriminator.width=4",
              "model.discriminator.max_channels=8", "data.resolution=16", "data.path=null", "train.batch_size=4",
              "train.log_every=1", "train.sample_every=0", "train.ckpt_every=0", "train.progress=false",
              "train.device=cpu", "data.num_workers=0", "recipe.kwargs.r1_interval=2", "recipe.kwargs.pl_interval=2",
              "recipe.kwargs.ada_interval=1", "recipe.kwargs.ada_kimg=0.1"]


_CLASSIC_TINY = ["data.resolution=16", "data.channels=3", "model.z_dim=8", "train.batch_size=4", "train.log_every=1",
                 "train.sample_every=0", "train.ckpt_every=0", "train.progress=false", "train.device=cpu",
                 "data.num_workers=0", "train.ema=0.9"]
UNROLLED_TINY = _CLASSIC_TINY + ["model.generator={name: mlp, width: 8, depth: 1}", "recipe.kwargs.unroll_steps=2",
                                 "model.discriminator={name: mlp, width: 8, depth: 1, norm: spectral}"]
INFOGAN_TINY = _CLASSIC_TINY + ["model.generator.width=4", "model.generator.fc=16", "model.discriminator.width=4",
                                "model.discriminator.fc=16", "model.discriminator.q_hidden=8"]
# r3gan: every ramp moves within the 4 steps (4 images a step, 12-image ramps), augmentation on
R3GAN_TINY = _CLASSIC_TINY + ["model.generator={name: r3gan, width: 8, blocks: 1}",
                              "model.discriminator={name: r3gan, width: 8, blocks: 1}", "recipe.kwargs.ramp_kimg=0.012",
                              "recipe.kwargs.ema_kimg=0.008", "recipe.kwargs.augment=diff", "recipe.kwargs.aug_p=0.5"]


@pytest.mark.parametrize("preset,extra", [("stargan_emoji", ATTR_TINY), ("aclgan_emoji", ATTR_TINY),
                                          ("aclgan_emoji", ATTR_TINY + ["recipe.kwargs.grow_steps=1",
                                                                        "model.generator.grow=true",
                                                                        "model.discriminator.grow=true", "model.discriminator.n_layers=3",
                                                                        "model.discriminator.grow_stages=3"]),
                                          ("style_emoji64", STYLE_TINY), ("unrolled_fashion", UNROLLED_TINY),
                                          ("infogan_fashion", INFOGAN_TINY), ("r3gan_fashion32", R3GAN_TINY),
                                          ("r3gan_emoji64", R3GAN_TINY + ["recipe.kwargs.augment=ada", "recipe.kwargs.aug_p=0",
                                                                          "recipe.kwargs.ada_interval=1",
                                                                          "recipe.kwargs.ada_kimg=0.01"])])
def test_every_recipe_resumes_bit_exactly(preset, extra, resumes_bit_exactly, one_thread):
    from gankit.config import load_config

    resumes_bit_exactly(lambda steps, out, resume: Trainer(load_config(preset, [*extra, f"train.steps={steps}"]), out,
                                                          resume=resume, source=AttrSource()))


if "test_scheduled" not in RECIPES:
    from gankit.recipes.gan import GANRecipe

    @RECIPES.register("test_scheduled")
    class Scheduled(GANRecipe):
        """A GAN whose learning rate, beta2 and EMA decay follow the step."""

        def schedule(self, step: int) -> dict[str, float]:
            return {"lr_factor": 1.0 / (1 + step), "beta2": 0.9 + 0.01 * step, "ema": 0.5}


def test_recipe_schedule_sets_lr_beta2_and_ema_each_step(tiny, tmp_path):
    seen = []
    tr = Trainer(tiny(None, "recipe.name=test_scheduled", "train.steps=3", "train.ema=0.9", "optim.g_lr=0.001"),
                 tmp_path, callbacks=[lambda t, s: seen.append((t.opts["G"].param_groups[0]["lr"],
                                                                 t.opts["D"].param_groups[0]["betas"]))])
    tr.fit()
    # step s ran with lr 0.001 / (1 + s) and beta2 0.9 + 0.01 s (the callback runs after step s)
    assert [round(lr, 9) for lr, _ in seen] == [0.001, 0.0005, round(0.001 / 3, 9)]
    assert [round(b[1], 6) for _, b in seen] == [0.9, 0.91, 0.92] and all(b[0] == 0.5 for _, b in seen)
    # the EMA used the schedule's decay 0.5 (not train.ema's warm-up): one step from scratch
    tr2 = Trainer(tiny(None, "recipe.name=test_scheduled", "train.steps=1", "train.ema=0.9"), tmp_path / "one")
    e0 = {k: v.clone() for k, v in tr2.ema.net.named_parameters()}
    tr2.fit()
    for k, p in tr2.nets["G"].named_parameters():
        assert torch.allclose(dict(tr2.ema.net.named_parameters())[k], 0.5 * e0[k] + 0.5 * p.detach(), atol=1e-6), k


def test_trainer_hands_recipes_its_optimizers_read_only(tiny, tmp_path):
    tr = Trainer(tiny(None), tmp_path)
    assert tr.recipe.optimizers["D"] is tr.opts["D"] and set(tr.recipe.optimizers) == {"G", "D"}
    with pytest.raises(TypeError):
        tr.recipe.optimizers["D"] = None
