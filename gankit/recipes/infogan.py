"""InfoGAN (Chen et al. 2016): a GAN whose latent codes must stay recoverable from its images.

The generator's input carries a categorical code (10-way for MNIST) and continuous codes next
to the noise (:mod:`gankit.models.infogan`); a head Q on D's trunk predicts the codes of
generated images. The variational mutual-information bound, weight ``lambda_info`` (1 in the
paper), is added to both losses, as in the original: D's (training Q and the shared trunk) and
G's (so G makes its codes visible). On fakes only: the codes of real images are unknown.

Sample grids are traversals: rows = categories, columns = one continuous code swept from -2 to
2, the noise and the other codes fixed; one block per continuous code.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn

from gankit.data.base import Batch
from gankit.errors import ConfigError
from gankit.losses import ADV_LOSSES
from gankit.losses.info import code_entropy, info_nll
from gankit.models import DISCRIMINATORS, GENERATORS
from gankit.models.infogan import InfoGANDiscriminator, InfoGANGenerator, traversal_codes
from gankit.recipes.base import RECIPES, AbsentNet, NetSpec, Recipe

TRAVERSAL_STEPS = 9  # columns: -2, -1.5, ..., 2


@RECIPES.register("infogan")
class InfoGANRecipe(Recipe):
    """nets: G = ``infogan`` generator, D = ``infogan`` discriminator (its Q head inside, so Q
    trains in D's optimizer group with D's learning rate, as in the paper).

    recipe.kwargs: the codes ``n_cat`` (categories per categorical code, 10), ``n_cat_codes``
    (1), ``n_cont`` (continuous codes, 2), given to both networks (:meth:`net_args`: one place
    for them); ``lambda_info`` (the MI weight, >= 0); ``adversarial`` (a key of ADV_LOSSES,
    non-relativistic).
    """

    nets_spec = {
        "G": NetSpec(GENERATORS, "model.generator", ("resolution", "channels", "z_dim", "n_classes"), ("noise",)),
        "D": NetSpec(DISCRIMINATORS, "model.discriminator", ("resolution", "channels", "n_classes")),
    }
    uses_n_critic = False

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, n_cat: int = 10, n_cat_codes: int = 1,
                 n_cont: int = 2, lambda_info: float = 1.0, adversarial: str = "nonsaturating"):
        super().__init__(nets, rng)
        g, d = self.G, self.D
        if not isinstance(g, InfoGANGenerator):
            raise ConfigError(f"model.generator: recipe 'infogan' needs the 'infogan' generator (its input carries "
                              f"the codes), got {type(g).__name__}")
        if not isinstance(d, (InfoGANDiscriminator, AbsentNet)):  # absent: a generator-only checkpoint
            raise ConfigError(f"model.discriminator: recipe 'infogan' needs the 'infogan' discriminator (it holds the "
                              f"Q head), got {type(d).__name__}")
        want = {"n_cat": n_cat, "n_cat_codes": n_cat_codes, "n_cont": n_cont}
        for k, v in want.items():  # the builder injects them (net_args); networks built by hand must agree
            if getattr(g, k) != v or getattr(d, k, v) != v:
                raise ConfigError(f"recipe.kwargs.{k}={v}, but the generator has {getattr(g, k)} and the discriminator's "
                                  f"Q head {getattr(d, k, v)}")
        if lambda_info < 0:
            raise ConfigError(f"recipe.kwargs.lambda_info={lambda_info}: expected a number >= 0")
        self.loss = ADV_LOSSES.get(adversarial)
        if self.loss.relativistic:
            raise ConfigError(f"recipe.kwargs.adversarial '{adversarial}': infogan takes a non-relativistic loss "
                              "(nonsaturating, minimax, lsgan, wgan or hinge)")
        self.lambda_info = lambda_info
        self.h_cat = code_entropy(g.n_cat, g.n_cat_codes, 0)

    @classmethod
    def net_args(cls, role: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Both networks take the code sizes from recipe.kwargs (G draws the codes, Q predicts them)."""
        defaults = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()}
        codes = {k: kwargs.get(k, defaults[k]) for k in ("n_cat", "n_cat_codes", "n_cont")}
        if codes["n_cat_codes"] < 0 or codes["n_cont"] < 0 or codes["n_cat_codes"] + codes["n_cont"] == 0:
            raise ConfigError(f"recipe.kwargs: n_cat_codes={codes['n_cat_codes']}, n_cont={codes['n_cont']}: expected "
                              "counts >= 0, at least one code in all")
        if codes["n_cat_codes"] and codes["n_cat"] < 2:
            raise ConfigError(f"recipe.kwargs.n_cat={codes['n_cat']}: expected at least 2 categories")
        return codes

    def latent(self, n: int) -> tuple[Tensor, Tensor, Tensor]:
        """(z [n, G.z_dim] ~ N(0, I), its categories, its continuous codes)."""
        z = self.randn(n, self.G.z_dim)
        cat, cont = self.G.codes(z)
        return z, cat, cont

    def _info(self, h: Tensor, cat: Tensor, cont: Tensor, prefix: str) -> tuple[Tensor, dict[str, Tensor]]:
        cat_logits, mean, log_std = self.D.q(h)
        total, ce, gauss = info_nll(cat_logits, cat, mean, cont, log_std)
        out = {f"{prefix}_info": total.detach()}
        if cat.shape[1]:  # the categorical part of the MI bound (at most n_cat_codes log n_cat) and Q's accuracy
            out[f"{prefix}_mi_cat"] = self.h_cat - ce.detach()
            out[f"{prefix}_q_acc"] = (cat_logits.detach().argmax(-1) == cat).float().mean()
        if cont.shape[1]:
            out[f"{prefix}_cont_nll"] = gauss.detach()
        return total, out

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x = batch.x
        z, cat, cont = self.latent(len(x))
        with torch.no_grad():
            fake = self.G(z)
        real_logits = self.D.head(self.D.features(x)).squeeze(1).float()
        h_fake = self.D.features(fake)
        fake_logits = self.D.head(h_fake).squeeze(1).float()
        adv = self.loss.d_loss(real_logits, fake_logits)
        info, logged = self._info(h_fake, cat, cont, "d")
        return {"total": adv + self.lambda_info * info, "d_adv": adv.detach(), "d_real": real_logits.detach().mean(),
                "d_fake": fake_logits.detach().mean(), **logged}

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        z, cat, cont = self.latent(len(batch.x))
        h = self.D.features(self.G(z))
        adv = self.loss.g_loss(self.D.head(h).squeeze(1).float())
        info, logged = self._info(h, cat, cont, "g")
        return {"total": adv + self.lambda_info * info, "g_adv": adv.detach(), **logged}

    # ------------------------------------------------------------------------- sampling
    def preview_inputs(self, source, n: int, seed: int) -> Batch:
        """One fixed noise vector (the grid's size is set by the codes, not by ``n``)."""
        rng = torch.Generator().manual_seed(seed + 20_240_901)
        return Batch(z=torch.randn(1, self.nets[self.sample_role].noise_dim, generator=rng))

    def preview(self, inputs: Batch) -> tuple[Tensor, int]:
        """Every continuous code's traversal, stacked (see :meth:`traversal`)."""
        g = self.nets[self.sample_role]
        codes = range(g.n_cont) if g.n_cont else [0]
        blocks = [self.traversal(inputs.z[0], code)[0] for code in codes]
        return torch.cat(blocks), TRAVERSAL_STEPS if g.n_cont else 1

    def traversal(self, noise: Tensor, code: int = 0, steps: int = TRAVERSAL_STEPS, lo: float = -2.0,
                  hi: float = 2.0) -> tuple[Tensor, int]:
        """(images [rows * steps, C, R, R] on the CPU, steps): rows = categories of the first
        categorical code, columns = continuous code ``code`` from ``lo`` to ``hi``, everything
        else fixed (``noise`` [noise_dim], other codes 0). Call inside :meth:`sampling`."""
        g = self.nets[self.sample_role]
        nz, cat, cont = traversal_codes(g, noise.float().cpu(), code, steps, lo, hi)
        dev = self.device
        return g.synthesize(nz.to(dev), cat.to(dev), cont.to(dev)).float().cpu(), (steps if g.n_cont else 1)

    @torch.no_grad()
    def classify(self, x: Tensor, code: int = 0, batch_stats: bool = True) -> Tensor:
        """Q's category (argmax of categorical code ``code``) for images ``x`` [N, C, R, R] in
        [-1, 1] -> long [N]. ``batch_stats``: D's batch norm normalises with the statistics of
        ``x`` itself, as it does in training (its running averages mix real and generated
        batches); nothing of D is changed either way."""
        d = self.D
        if isinstance(d, AbsentNet):
            d()  # the one-line error: the checkpoint holds the generator only
        if not d.n_cat_codes:
            raise ConfigError("this InfoGAN has no categorical code (n_cat_codes=0)")
        was = d.training
        saved = {k: v.clone() for k, v in d.named_buffers()}
        d.train(batch_stats)
        try:
            logits, _, _ = d.q(d.features(x.to(self.device)))
        finally:
            d.train(was)
            for k, v in d.named_buffers():
                v.copy_(saved[k])
        return logits[:, code].argmax(-1)
