"""Unrolled GAN (Metz et al. 2017): G's loss is taken against D advanced k optimizer steps.

f_K(θ_G, θ_D) = f(θ_G, θ_D^K(θ_G, θ_D)), where θ_D^0 = θ_D and θ_D^{i+1} is one Adam step of D's loss
L_D(θ_G, θ_D^i) from θ_D^i.
The real D update is the plain GAN's; only the G phase changes. Two estimators of ∇_{θ_G} f_K:

* ``unroll_order: second`` (the paper's): the k look-ahead steps are differentiated, so G's
  gradient includes how D's response to G's samples depends on θ_G (a Hessian-vector product
  per unrolled step; memory and time grow with k).
* ``unroll_order: first``: the look-ahead is a detached copy of D (no gradient through the
  unroll): G follows ∇_{θ_G} f(θ_G, θ_D^K) with θ_D^K held fixed. A different, cheaper
  estimator: it drops the term that lets G anticipate D's reaction, which the paper credits
  for the mode coverage.

The unroll mirrors D's optimizer: Adam with D's group lr, betas, eps and weight decay, written
functionally. It continues from D's real Adam moments and step count when the recipe can read
D's optimizer (``optimizers``, a read-only mapping group -> optimizer), else from fresh Adam
state (zero moments: the first look-ahead step is about lr * sign(grad)) with the configured
``optim.d_lr``/``optim.d_betas`` (``group_hparams``, set by the builder). Each unrolled step
uses the G phase's real batch and the same generated samples, as the paper's code does.

D's real parameters, gradients, optimizer state and buffers (batch-norm running statistics,
spectral-norm power-iteration vectors) are never touched by the unroll: it runs D through
``torch.func.functional_call`` on its own parameter tensors and on copies of the buffers. The
final G loss is evaluated with the look-ahead D, so with k > 0 the G phase leaves every D
buffer as it was (the plain G step's forward advances them as a side effect). k = 0 is the
plain GAN exactly. As in any backward through spectral norm, its power-iteration vectors are
constants to autograd (they still advance, on copies, within the unroll).
"""

from __future__ import annotations


import torch
from torch import Tensor, nn
from torch.func import functional_call

from gankit.data.base import Batch
from gankit.errors import ConfigError
from gankit.losses import interpolate, zero_centered_penalty
from gankit.recipes.base import RECIPES
from gankit.recipes.gan import GANRecipe

ORDERS = ("second", "first")

Params = dict[str, Tensor]


@RECIPES.register("unrolled")
class UnrolledGAN(GANRecipe):
    """The GAN recipe (the loss section configures it) with G's loss against a k-step look-ahead D.

    recipe.kwargs: ``unroll_steps`` (k >= 0; 5 and 10 in the paper), ``unroll_order``
    (``second``: differentiate through the unroll; ``first``: a detached look-ahead copy).
    The loss section's keys are passed on to :class:`GANRecipe` unchanged.
    """

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, unroll_steps: int = 5,
                 unroll_order: str = "second", **loss):
        super().__init__(nets, rng, **loss)
        if unroll_steps < 0:
            raise ConfigError(f"recipe.kwargs.unroll_steps={unroll_steps}: expected an integer >= 0 (0 = the plain GAN)")
        if unroll_order not in ORDERS:
            raise ConfigError(f"recipe.kwargs.unroll_order '{unroll_order}': expected one of {', '.join(ORDERS)}")
        self.unroll_steps, self.unroll_order = unroll_steps, unroll_order
        penalties = [k for k, v in (("gp_weight", self.gp_weight), ("r1_gamma", self.r1_gamma), ("r2_gamma", self.r2_gamma)) if v > 0]
        if unroll_steps and unroll_order == "second" and penalties and _has_batch_norm(self.D):
            raise ConfigError(f"loss.{penalties[0]}: with recipe.kwargs.unroll_order=second the penalty is differentiated "
                              "through the unroll (third derivatives), which batch norm does not have; use a "
                              "discriminator without batch norm (e.g. norm=layer or spectral) or unroll_order=first")
        # Read-only views of D's optimizer: the trainer's optimizers when it exposes them (the
        # exact Adam state and current lr), else each group's configured lr/betas (set by
        # gankit.train.build.build_recipe).
        self.group_hparams: dict[str, dict] | None = None

    # ------------------------------------------------------------------------------- G phase
    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        if self.unroll_steps == 0:
            return super().g_step(batch, step)
        c = self.fake_labels(batch)  # conditional: the batch's labels, for real and fake alike (as in d_step)
        fake = self.G(self.sample_z(len(batch.x)), c)
        second = self.unroll_order == "second"
        params, buffers = self.lookahead(batch.x, fake if second else fake.detach(), c, step, create_graph=second)
        if not second:
            params = {k: v.detach() for k, v in params.items()}
        d = lambda h: functional_call(self.D, (params, buffers), (self.d_input(h, step), c)).float()  # noqa: E731
        if self.loss.relativistic:  # D(real) depends on G through the unrolled weights (second order)
            g = self.loss.g_loss(d(fake), d(batch.x) if second else d(batch.x).detach())
        else:
            g = self.loss.g_loss(d(fake))
        return {"total": g, "g_adv": g.detach()}

    def lookahead(self, x: Tensor, fake: Tensor, c: Tensor | None, step: int,
                  create_graph: bool) -> tuple[Params, Params]:
        """D's parameters after ``unroll_steps`` functional Adam steps on the D loss of
        (``x``, ``fake``), and the buffer copies those steps advanced. ``create_graph``: the
        result is differentiable with respect to whatever ``fake`` depends on (second order).
        D's own parameters, gradients, buffers and optimizer state are only read."""
        adam = self._adam_state()
        params = {n: p.detach().requires_grad_(True) for n, p in self.D.named_parameters()}
        buffers = {n: b.detach().clone() for n, b in self.D.named_buffers()}
        names = list(params)
        with torch.enable_grad():  # D's gradients are needed even when the caller evaluates without grad
            for _ in range(self.unroll_steps):
                loss = self._d_objective(params, buffers, x, fake, c, step)
                grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=create_graph, allow_unused=True)
                new = {}
                for n, g in zip(names, grads):
                    p = params[n]
                    if g is None:  # a parameter the D loss does not reach (torch's Adam skips it too)
                        new[n] = p
                        continue
                    q = adam.step(n, p, g)
                    if self.clip > 0:
                        q = q.clamp(-self.clip, self.clip)
                    new[n] = q if create_graph else q.detach().requires_grad_(True)
                params = new
                adam.advance()
        return params, buffers

    def _d_objective(self, params: Params, buffers: Params, x: Tensor, fake: Tensor, c: Tensor | None,
                     step: int) -> Tensor:
        """The D phase's loss (:meth:`GANRecipe.d_step`) with D's weights ``params`` (the
        buffers advance in place). Differences, both deliberate: R1/R2 apply at every unrolled
        step with weight gamma/2 (the objective that lazy regularization approximates), and
        the gradient penalty's interpolates keep their dependence on G (the D step detaches
        them because it does not train G; here that dependence is part of the unroll)."""
        d = lambda h: functional_call(self.D, (params, buffers), (self.d_input(h, step), c)).float()  # noqa: E731
        g1, g2 = self.penalty_gammas(step)
        x_in = x.detach().requires_grad_(True) if self.r1_gamma > 0 else x
        f_in = fake
        if self.r2_gamma > 0:  # R2's input gradient is taken at the fakes; keep their graph to G
            f_in = fake if fake.requires_grad else fake.detach().requires_grad_(True)
        real_logits, fake_logits = d(x_in), d(f_in)
        total = self.loss.d_loss(real_logits, fake_logits)
        if self.gp_weight > 0:
            x_hat = interpolate(x.detach(), fake, self.rand(len(x)))
            if not x_hat.requires_grad:  # first order: the fakes are detached
                x_hat.requires_grad_(True)
            (grad,) = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)
            total = total + self.gp_weight * (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()
        if self.r1_gamma > 0:
            total = total + 0.5 * g1 * zero_centered_penalty(real_logits, x_in)
        if self.r2_gamma > 0:
            total = total + 0.5 * g2 * zero_centered_penalty(fake_logits, f_in)
        return total

    def _adam_state(self) -> "FunctionalAdam":
        opt = (self.optimizers or {}).get("D")
        if opt is not None:
            return FunctionalAdam.from_optimizer(opt, dict(self.D.named_parameters()))
        hp = (self.group_hparams or {}).get("D")
        if hp is None:
            raise ConfigError("recipe 'unrolled': D's optimizer settings are unknown (build the recipe with "
                              "gankit.train.build.build_recipe, or set recipe.optimizers / recipe.group_hparams)")
        return FunctionalAdam.fresh(float(hp["lr"]), tuple(hp["betas"]))


def _has_batch_norm(net: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


def _safe_sqrt(v: Tensor) -> Tensor:
    """sqrt(v) with a zero (not infinite) derivative at v = 0: a parameter whose gradient is
    exactly 0 would otherwise turn the second-order gradient into NaN (inf * 0)."""
    pos = v > 0
    return torch.where(pos, torch.where(pos, v, torch.ones_like(v)).sqrt(), torch.zeros_like(v))


class FunctionalAdam:
    """Adam (torch.optim.Adam's update, no amsgrad) on tensors, differentiable, out of place.

    Per parameter name: hyper-parameters ``hp[n] = (lr, (beta1, beta2), eps, weight_decay)``
    (absent: ``default``), moments ``m[n]``, ``v[n]`` (absent: zeros) and the step count
    ``t[n]`` taken so far (absent: 0). Nothing passed in is ever written.
    """

    def __init__(self, hp: dict[str, tuple], m: dict[str, Tensor], v: dict[str, Tensor], t: dict[str, float],
                 default: tuple | None = None):
        self.hp, self.m, self.v, self.t, self.default = hp, m, v, t, default
        self._pending: dict[str, tuple[Tensor, Tensor]] = {}

    @classmethod
    def fresh(cls, lr: float, betas: tuple[float, float], eps: float = 1e-8) -> "FunctionalAdam":
        """Zero moments, step 0 (what a new torch Adam holds)."""
        return cls({}, {}, {}, {}, default=(lr, (float(betas[0]), float(betas[1])), eps, 0.0))

    @classmethod
    def from_optimizer(cls, opt: torch.optim.Optimizer, params: dict[str, nn.Parameter]) -> "FunctionalAdam":
        """The current hyper-parameters and state of a torch Adam for the named ``params``
        (references to its moment tensors, which are only read)."""
        group_of = {id(p): g for g in opt.param_groups for p in g["params"]}
        hp, m, v, steps = {}, {}, {}, {}
        for n, p in params.items():
            g = group_of.get(id(p))
            if g is None:
                raise ConfigError(f"recipe 'unrolled': parameter D.{n} is not in D's optimizer")
            if g.get("amsgrad") or g.get("maximize") or g.get("decoupled_weight_decay"):
                raise ConfigError("recipe 'unrolled': the unroll mirrors plain Adam (no amsgrad, maximize or AdamW)")
            hp[n] = (float(g["lr"]), (float(g["betas"][0]), float(g["betas"][1])), float(g["eps"]), float(g["weight_decay"]))
            st = opt.state.get(p, {})
            if "exp_avg" in st:
                m[n], v[n], steps[n] = st["exp_avg"].detach(), st["exp_avg_sq"].detach(), st["step"]
        # one host read for every step counter (fused CUDA Adam keeps them on the device)
        counts = torch.stack([torch.as_tensor(s).to(torch.float64).reshape(()) for s in steps.values()]).tolist() \
            if steps else []
        return cls(hp, m, v, dict(zip(steps, counts)))

    def step(self, n: str, p: Tensor, g: Tensor) -> Tensor:
        """p after one Adam step with gradient ``g`` (the new moments wait for :meth:`advance`).
        The arithmetic follows torch.optim.Adam's so a look-ahead step equals a real one."""
        lr, (b1, b2), eps, wd = self.hp.get(n, self.default)
        if wd:
            g = g + wd * p
        m0, v0 = self.m.get(n), self.v.get(n)
        m = torch.lerp(m0, g, 1 - b1) if m0 is not None else (1 - b1) * g
        v = v0 * b2 + (1 - b2) * (g * g) if v0 is not None else (1 - b2) * (g * g)
        t = self.t.get(n, 0.0) + 1
        bc1, bc2_sqrt = 1 - b1 ** t, (1 - b2 ** t) ** 0.5
        self._pending[n] = (m, v)
        return p - (lr / bc1) * (m / (_safe_sqrt(v) / bc2_sqrt + eps))

    def advance(self) -> None:
        """End of one unrolled step: the new moments and step counts become current."""
        for n, (m, v) in self._pending.items():
            self.m[n], self.v[n] = m, v
            self.t[n] = self.t.get(n, 0.0) + 1
        self._pending = {}
