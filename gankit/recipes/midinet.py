"""MidiNet (Yang, Chou & Yang 2017): a convolutional GAN that writes a melody bar by bar.

``model`` picks the paper's variant: 1 = melody only, 2 = + chord condition (G and D), 3 =
+ the previous bar through G's conditioner CNN. The losses are the paper's (and its
official code's): D minimises BCE(D(x), ``real_label``) + BCE(D(G(z)), 0) (one-sided label
smoothing, 0.9); G minimises BCE(D(G(z)), 1) + ``lambda_fm`` * 1/2 ||mean_batch f(G(z)) -
mean_batch f(x)||^2 (feature matching on D's first layer f) + ``lambda_mean`` * 1/2
||mean_batch G(z) - mean_batch x||^2 (the mean-image regulariser), with lambda_1 = 0.1 and
lambda_2 = 0.01. G is updated ``g_repeats`` = 2 times per D update on the same real batch
(new noise each time), as the official code does to keep D's loss from reaching zero.

Batches carry ``x`` (bars [N, 1, 16, 128] in {0, 1}), ``chord`` [N, 13] and ``prev`` (the
previous bar); see :class:`gankit.data.chorales.ChoraleBars`. Samples are bars in [0, 1]
(the generator's sigmoid); :func:`gankit.data.music.melody_of` turns them into notes.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.data.base import Batch
from gankit.data.music import CHORD_DIM, PITCHES, STEPS, chord_vector, decode, melody_of, roll_image
from gankit.errors import ConfigError
from gankit.models import DISCRIMINATORS, GENERATORS
from gankit.models.midinet import MidiNetDiscriminator, MidiNetGenerator
from gankit.recipes.base import RECIPES, AbsentNet, NetSpec, Phase, Recipe, grid_cols

MODELS = {1: "melody only", 2: "melody + chords", 3: "melody + chords + previous bar"}
DEFAULT_PROGRESSION = [(0, False), (7, False), (9, True), (5, False)]  # C G Am F: previews without data


def _check_model(model: Any) -> int:
    if model not in MODELS or isinstance(model, bool):
        raise ConfigError(f"recipe.kwargs.model={model!r}: expected 1 (melody only), 2 (+ chords) or 3 (+ previous bar)")
    return int(model)


@RECIPES.register("midinet")
class MidiNetRecipe(Recipe):
    """See the module docstring. Networks: ``model.generator`` / ``model.discriminator``
    named ``midinet``; their ``chord``/``prev`` inputs follow ``model`` (:meth:`net_args`)."""

    nets_spec = {"G": NetSpec(GENERATORS, "model.generator", ("z_dim",), ("noise",)),
                 "D": NetSpec(DISCRIMINATORS, "model.discriminator", ())}
    uses_n_critic = False

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, model: int = 3, g_repeats: int = 2,
                 real_label: float = 0.9, lambda_fm: float = 0.1, lambda_mean: float = 0.01, preview_bars: int = 4):
        super().__init__(nets, rng)
        self.model = _check_model(model)
        if g_repeats < 1 or preview_bars < 1:
            raise ConfigError(f"recipe.kwargs.g_repeats={g_repeats}, preview_bars={preview_bars}: expected >= 1")
        if not 0 < real_label <= 1 or lambda_fm < 0 or lambda_mean < 0:
            raise ConfigError(f"recipe.kwargs: real_label={real_label} must be in (0, 1], lambda_fm={lambda_fm} and "
                              f"lambda_mean={lambda_mean} >= 0")
        g, d = nets["G"], nets["D"]
        if not isinstance(g, MidiNetGenerator) or not isinstance(d, (MidiNetDiscriminator, AbsentNet)):
            raise ConfigError("model.generator / model.discriminator: recipe 'midinet' needs networks named 'midinet'")
        self.g_repeats, self.real_label, self.lambda_fm, self.lambda_mean = g_repeats, real_label, lambda_fm, lambda_mean
        self.preview_bars = preview_bars
        self.z_dim = g.z_dim

    @classmethod
    def net_args(cls, role: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        model = _check_model(kwargs.get("model", 3))
        if role == "G":
            return {"chord": model >= 2, "prev": model == 3}
        return {"chord": model >= 2}

    def phases(self) -> list[Phase]:
        return [Phase("d", "D", self.d_step), Phase("g", "G", self.g_step, repeat=self.g_repeats, new_batch=False)]

    # ------------------------------------------------------------------------ training
    def conds(self, chord: Tensor | None, prev: Tensor | None) -> dict[str, Tensor | None]:
        """The generator's condition inputs for this model (model 1: none, 2: chord, 3: both)."""
        return {"chord": chord if self.model >= 2 else None, "prev": prev if self.model == 3 else None}

    def d_chord(self, batch: Batch) -> Tensor | None:
        return batch.chord if self.model >= 2 else None

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x, c = batch.x, self.d_chord(batch)
        with torch.no_grad():
            fake = self.G(self.randn(len(x), self.z_dim), **self.conds(batch.chord, batch.prev))
        real_logits, fake_logits = self.D(x, c).float(), self.D(fake, c).float()
        real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, self.real_label))
        fake_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        return {"total": real + fake_loss, "d_real_loss": real.detach(), "d_fake_loss": fake_loss.detach(),
                "d_real": torch.sigmoid(real_logits).mean().detach(), "d_fake": torch.sigmoid(fake_logits).mean().detach()}

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x, c = batch.x, self.d_chord(batch)
        fake = self.G(self.randn(len(x), self.z_dim), **self.conds(batch.chord, batch.prev))
        logits, f_fake = self.D(fake, c, features=True)
        with torch.no_grad():
            _, f_real = self.D(x, c, features=True)
        adv = F.binary_cross_entropy_with_logits(logits.float(), torch.ones_like(logits.float()))
        fm = 0.5 * (f_fake.float().mean(0) - f_real.float().mean(0)).pow(2).sum()
        mean_img = 0.5 * (fake.float().mean(0) - x.float().mean(0)).pow(2).sum()
        total = adv + self.lambda_fm * fm + self.lambda_mean * mean_img
        return {"total": total, "g_adv": adv.detach(), "g_fm": fm.detach(), "g_mean": mean_img.detach()}

    # ------------------------------------------------------------------------ sampling
    def random_chords(self, n: int, rng: torch.Generator) -> Tensor:
        """n chords drawn uniformly from the 24 major/minor triads."""
        k = torch.randint(0, 24, (n,), generator=rng)
        return torch.stack([torch.from_numpy(chord_vector(int(i) % 12, bool(i >= 12))) for i in k])

    def sample(self, n: int, rng: torch.Generator, inputs: Batch | None = None) -> Tensor:
        """n bars [n, 1, 16, 128] in [0, 1]. ``inputs`` may give ``chord`` [n, 13] and ``prev``
        [n, 1, 16, 128]; else chords are uniform over the 24 triads and the previous bar is
        silence. Call inside :meth:`sampling`."""
        z = torch.randn(n, self.z_dim, generator=rng)
        chord = inputs.chord if inputs is not None and inputs.chord is not None else self.random_chords(n, rng)
        prev = inputs.prev if inputs is not None and inputs.prev is not None else torch.zeros(n, 1, STEPS, PITCHES)
        dev = self.device
        return self.G(z.to(dev), **self.conds(chord.to(dev), prev.to(dev))).float()

    def sampler(self, source=None):
        """``sample(b, rng)``: with a source, each bar takes the chord and previous bar of a
        random item of it (drawn with ``rng``); without one, see :meth:`sample`."""
        if source is None:
            return lambda b, rng: self.sample(b, rng)

        def draw(b: int, rng: torch.Generator) -> Tensor:
            idx = torch.randint(0, len(source), (b,), generator=rng).tolist()
            items = [source[i] for i in idx]
            return self.sample(b, rng, Batch(chord=torch.stack([it[1] for it in items]),
                                             prev=torch.stack([it[2] for it in items])))
        return draw

    def compose(self, chords: Tensor, z: Tensor, prime: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Songs bar by bar: chords [B, bars, 13], noise z [B, bars, z_dim], prime [B, 1, 16, 128]
        (the bar before the first; default silence). Model 3 feeds each decoded bar back as the
        next bar's previous bar. Returns (raw [B, bars, 16, 128] in [0, 1], decoded binary
        rolls like it). Call inside :meth:`sampling`."""
        dev = self.device
        prev = prime.to(dev) if prime is not None else torch.zeros(len(chords), 1, STEPS, PITCHES, device=dev)
        raw, bars = [], []
        for t in range(chords.shape[1]):
            out = self.G(z[:, t].to(dev), **self.conds(chords[:, t].to(dev), prev)).float()
            dec = torch.from_numpy(decode(out[:, 0].cpu().numpy())).to(dev)
            raw.append(out[:, 0])
            bars.append(dec)
            prev = dec[:, None]
        return torch.stack(raw, 1).cpu(), torch.stack(bars, 1).cpu()

    def preview_inputs(self, source, n: int, seed: int) -> Batch:
        """n phrases of ``preview_bars`` bars: the chords of real phrases of ``source`` and the
        real bar before each (a C G Am F loop and silence without a source), fixed noise."""
        rng = torch.Generator().manual_seed(seed + 20_240_901)
        bars = self.preview_bars
        starts = source.phrases(bars, step=1) if hasattr(source, "phrases") else []
        z = torch.randn(n, bars, self.z_dim, generator=rng)
        if starts:
            pick = torch.randint(0, len(starts), (n,), generator=rng).tolist()
            chords = torch.stack([torch.stack([source[starts[k] + t][1] for t in range(bars)]) for k in pick])
            prime = torch.stack([source[starts[k]][2] for k in pick])
        else:
            loop = torch.stack([torch.from_numpy(chord_vector(r, m)) for r, m in DEFAULT_PROGRESSION])
            chords = loop[torch.arange(bars) % len(loop)].expand(n, bars, CHORD_DIM).clone()
            prime = torch.zeros(n, 1, STEPS, PITCHES)
        return Batch(z=z, chord=chords, prev=prime)

    def preview(self, inputs: Batch) -> tuple[Tensor, int]:
        """(piano-roll images [n, 1, 120, 32 * bars] in [-1, 1] of the decoded phrases, C2-B6 at
        two pixels per semitone and step (:func:`gankit.data.music.roll_image`), phrases per row)."""
        _, rolls = self.compose(inputs.chord, inputs.z, inputs.prev)
        mel = melody_of(rolls.numpy())
        return torch.stack([roll_image(m) for m in mel]), grid_cols(len(mel))
