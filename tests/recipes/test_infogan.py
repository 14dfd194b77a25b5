"""InfoGAN: the MI term against its formula, who receives its gradient, the latent codes,
traversal grids, the preset and the CLI."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.errors import ConfigError
from gankit.losses.info import code_entropy, info_nll
from gankit.models.infogan import InfoGANDiscriminator, InfoGANGenerator, traversal_codes
from gankit.train.trainer import Trainer

SMALL = ["model.generator.fc=16", "model.discriminator.fc=16", "model.discriminator.q_hidden=8"]


def _cfg(tiny, *extra):
    return tiny("infogan_fashion", *SMALL, *extra)


def test_info_nll_matches_its_formula():
    logits = torch.tensor([[[2.0, 0.0, -1.0]], [[0.5, 0.5, 3.0]]])  # [N=2, 1 code, 3 categories]
    cat = torch.tensor([[0], [1]])
    mean = torch.tensor([[0.1, -0.4], [0.0, 0.3]])
    cont = torch.tensor([[0.5, -0.5], [-1.0, 0.3]])

    def nlsm(row, k):  # -log softmax(row)[k]
        return -(row[k] - math.log(sum(math.exp(v) for v in row)))

    ce = (nlsm([2.0, 0.0, -1.0], 0) + nlsm([0.5, 0.5, 3.0], 1)) / 2
    sq = [(0.5 - 0.1) ** 2 + (-0.5 + 0.4) ** 2, (-1.0 - 0.0) ** 2 + 0.0]
    gauss = sum(0.5 * s + 2 * 0.5 * math.log(2 * math.pi) for s in sq) / 2
    total, ce_t, gauss_t = info_nll(logits, cat, mean, cont)
    assert float(ce_t) == pytest.approx(ce, rel=1e-6) and float(gauss_t) == pytest.approx(gauss, rel=1e-6)
    assert float(total) == pytest.approx(ce + gauss, rel=1e-6)
    # learned std: log s + (c - m)^2 / (2 s^2) + log(2 pi) / 2 per code
    log_std = torch.tensor([[0.2, -0.3], [0.0, 0.5]])
    want = 0.0
    for i in range(2):
        for j in range(2):
            s = float(log_std[i, j])
            want += s + (float(cont[i, j]) - float(mean[i, j])) ** 2 / (2 * math.exp(2 * s)) + 0.5 * math.log(2 * math.pi)
    assert float(info_nll(logits, cat, mean, cont, log_std)[2]) == pytest.approx(want / 2, rel=1e-6)
    assert code_entropy(10, 1, 2) == pytest.approx(math.log(10) + 2 * math.log(2))


def test_perfect_q_gives_zero_categorical_loss_and_logits_are_not_softmaxed_twice():
    cat = torch.tensor([[3], [7], [0]])
    perfect = 30.0 * F.one_hot(cat, 10).float()  # raw logits of a Q that is sure and right
    _, ce, _ = info_nll(perfect, cat, torch.zeros(3, 0), torch.zeros(3, 0))
    assert float(ce) < 1e-9
    # the ports' bug: softmax first, then a cross-entropy that applies log-softmax again
    _, ce_bug, _ = info_nll(perfect.softmax(-1), cat, torch.zeros(3, 0), torch.zeros(3, 0))
    assert float(ce_bug) == pytest.approx(-math.log(math.e / (math.e + 9)), rel=1e-5)  # ~1.46 nats, never 0
    # Q's categorical outputs reach the loss raw: a head whose last layer outputs 30 * one-hot
    d = InfoGANDiscriminator(8, 1, n_cat=10, n_cat_codes=1, n_cont=2, width=2, fc=4, q_hidden=3)
    with torch.no_grad():
        d.q_net[-1].weight.zero_()
        d.q_net[-1].bias.copy_(torch.cat([30.0 * F.one_hot(torch.tensor(3), 10).float(), torch.tensor([0.5, -0.5])]))
    logits, mean, log_std = d.q(d.features(torch.zeros(2, 1, 8, 8)))
    assert torch.equal(logits[0, 0], 30.0 * F.one_hot(torch.tensor(3), 10).float()) and log_std is None
    assert torch.equal(mean[0], torch.tensor([0.5, -0.5]))


def test_latent_codes_follow_the_paper_priors():
    g = InfoGANGenerator(8, 1, z_dim=5, n_cat=10, n_cat_codes=2, n_cont=3, width=2, fc=4)
    assert g.z_dim == 5 + 20 + 3 and g.noise_dim == 5
    z = torch.randn(20000, g.z_dim, generator=torch.Generator().manual_seed(0))
    cat, cont = g.codes(z)
    assert cat.shape == (20000, 2) and cont.shape == (20000, 3)
    freq = torch.bincount(cat[:, 1], minlength=10).float() / 20000
    assert (freq - 0.1).abs().max() < 0.012  # uniform categories
    assert cont.abs().max() < 1 and cont.mean().abs() < 0.02 and abs(float(cont.var()) - 1 / 3) < 0.01  # U(-1, 1)
    assert torch.equal(cat[:, 0], z[:, 5:15].argmax(1))
    # forward(z) is synthesize(noise, codes(z))
    g.eval()
    assert torch.equal(g(z[:4]), g.synthesize(z[:4, :5], cat[:4], cont[:4]))


def test_recipe_kwargs_set_the_codes_of_both_networks(tiny, tmp_path):
    tr = Trainer(_cfg(tiny, "recipe.kwargs.n_cat=4", "recipe.kwargs.n_cat_codes=2", "recipe.kwargs.n_cont=1",
                      "model.z_dim=5"), tmp_path)
    g, d = tr.nets["G"], tr.nets["D"]
    assert (g.n_cat, g.n_cat_codes, g.n_cont, g.z_dim) == (4, 2, 1, 5 + 8 + 1)
    logits, mean, _ = d.q(d.features(torch.zeros(3, 3, 32, 32)))
    assert logits.shape == (3, 2, 4) and mean.shape == (3, 1)
    tr.fit()
    from gankit.pipelines import load_run

    assert load_run(tmp_path).net.z_dim == 14  # rebuilt from the checkpoint's specs


def test_traversal_codes_rows_are_categories_columns_sweep_one_code():
    g = InfoGANGenerator(8, 1, z_dim=4, n_cat=10, n_cat_codes=1, n_cont=2, width=2, fc=4)
    noise = torch.arange(4.0)
    nz, cat, cont = traversal_codes(g, noise, code=1, steps=5)
    assert nz.shape == (50, 4) and torch.equal(nz, noise.expand(50, 4))
    assert torch.equal(cat[:, 0], torch.arange(10).repeat_interleave(5))
    assert torch.equal(cont[:, 1], torch.linspace(-2, 2, 5).repeat(10)) and torch.equal(cont[:, 0], torch.zeros(50))
    with pytest.raises(ValueError, match="continuous code 2"):
        traversal_codes(g, noise, code=2)


def test_g_and_q_both_receive_the_mi_gradient(tiny, tmp_path, one_thread):
    """With lambda_info = 0 Q never changes and G trains as a plain GAN; with 1 both change."""
    runs = {}
    for lam in (0.0, 1.0):
        tr = Trainer(_cfg(tiny, f"recipe.kwargs.lambda_info={lam}", "train.steps=2", "train.ema=0"), tmp_path / str(lam))
        q0 = {k: v.detach().clone() for k, v in tr.nets["D"].q_net.named_parameters()}
        tr.fit()
        runs[lam] = (q0, tr)
    q0, tr = runs[0.0]
    assert all(torch.equal(q0[k], v) for k, v in tr.nets["D"].q_net.named_parameters())
    q0, tr1 = runs[1.0]
    assert all(not torch.equal(q0[k], v) for k, v in tr1.nets["D"].q_net.named_parameters())
    g0, g1 = dict(tr.nets["G"].named_parameters()), dict(tr1.nets["G"].named_parameters())
    assert any(not torch.equal(g0[k], g1[k]) for k in g0)
    # directly: the MI term of a G step has a gradient in G and in Q (and D's trunk)
    rec = tr1.recipe
    z, cat, cont = rec.latent(4)
    h = rec.D.features(rec.G(z))
    info, logged = rec._info(h, cat, cont, "g")
    cat_logits, mean, _ = rec.D.q(h)  # the recipe hands Q's raw logits to the loss (no softmax of its own)
    assert float(info.detach()) == pytest.approx(float(info_nll(cat_logits, cat, mean, cont)[0].detach()), rel=1e-6)
    params = {"G": list(rec.G.parameters()), "Q": list(rec.D.q_net.parameters()), "trunk": list(rec.D.trunk.parameters())}
    for name, ps in params.items():
        grads = torch.autograd.grad(info, ps, retain_graph=True)
        assert sum(float(g.abs().sum()) for g in grads) > 0, name
    assert set(logged) == {"g_info", "g_mi_cat", "g_q_acc", "g_cont_nll"}


def test_preset_trains_one_step_and_writes_a_traversal_grid(tiny, tmp_path, one_thread):
    cfg = _cfg(tiny, "train.steps=1", "train.sample_every=1", "data.resolution=28", "data.channels=1")
    Trainer(cfg, tmp_path).fit()
    log = (tmp_path / "metrics.jsonl").read_text()
    for key in ('"d_info"', '"g_info"', '"d_q_acc"', '"g_mi_cat"', '"d_cont_nll"'):
        assert key in log, key
    # 2 continuous codes x 10 categories rows, 9 columns, 28 px + 2 px padding
    assert Image.open(tmp_path / "samples" / "latest.png").size == (9 * 30 + 2, 20 * 30 + 2)


def test_traverse_cli_and_classify(tiny, tmp_path, cli, one_thread):
    run = tmp_path / "run"
    Trainer(_cfg(tiny, "train.steps=1", "data.resolution=16"), run).fit()
    code, out, err = cli("sample", run, "--out", tmp_path / "t.png", "--traverse", "1", "--device", "cpu", "--seed", "3")
    assert code == 0, err
    assert Image.open(tmp_path / "t.png").size == (9 * 18 + 2, 10 * 18 + 2)
    code, _, err = cli("sample", run, "--out", tmp_path / "t.png", "--traverse", "2", "--device", "cpu")
    assert code == 2 and "--traverse 2: this run has 2 continuous code(s) (0..1)" in err
    Trainer(tiny(None, "train.steps=1"), tmp_path / "gan").fit()
    code, _, err = cli("sample", tmp_path / "gan", "--out", tmp_path / "t.png", "--traverse", "--device", "cpu")
    assert code == 2 and "traversals need an InfoGAN run" in err
    from gankit.pipelines import load_run

    r = load_run(run)
    before = {k: v.clone() for k, v in r.recipe.D.state_dict().items()}
    x = torch.rand(6, 3, 16, 16) * 2 - 1
    pred = r.recipe.classify(x)
    logits, _, _ = r.recipe.D.q(r.recipe.D.features(x))  # D is in eval mode here: running statistics
    assert pred.shape == (6,) and pred.dtype == torch.long
    assert torch.equal(r.recipe.classify(x, batch_stats=False), logits[:, 0].argmax(-1))
    assert all(torch.equal(before[k], v) for k, v in r.recipe.D.state_dict().items())


def test_infogan_config_errors(tiny, tmp_path):
    # the code sizes are the recipe's (one place, given to both networks), not a network key
    with pytest.raises(ConfigError, match=r"model.discriminator.n_cat: unknown key"):
        Trainer(_cfg(tiny, "model.discriminator.n_cat=5"), tmp_path)
    with pytest.raises(ConfigError, match=r"recipe.kwargs.n_cat=1: expected at least 2 categories"):
        Trainer(_cfg(tiny, "recipe.kwargs.n_cat=1"), tmp_path)
    with pytest.raises(ConfigError, match=r"recipe.kwargs: n_cat_codes=0, n_cont=0"):
        Trainer(_cfg(tiny, "recipe.kwargs.n_cat_codes=0", "recipe.kwargs.n_cont=0"), tmp_path)
    with pytest.raises(ConfigError, match=r"model.generator 'dcgan': recipe 'infogan' gives its networks n_cat, "
                                          r"n_cat_codes, n_cont, which this network does not take"):
        Trainer(_cfg(tiny, "model.generator={name: dcgan, width: 8}"), tmp_path)
    with pytest.raises(ConfigError, match=r"loss.adversarial: .* \(set recipe.kwargs.adversarial instead\)"):
        Trainer(_cfg(tiny, "loss.adversarial=hinge"), tmp_path)
    with pytest.raises(ConfigError, match=r"model.generator \(infogan\): n_classes=\d+: InfoGAN is unsupervised"):
        Trainer(_cfg(tiny, "data.labels=true"), tmp_path)
    with pytest.raises(ConfigError, match=r"resolution must be a multiple of 4"):
        Trainer(_cfg(tiny, "data.resolution=30"), tmp_path)
    with pytest.raises(ConfigError, match=r"recipe.kwargs.adversarial 'rpgan'"):
        Trainer(_cfg(tiny, "recipe.kwargs.adversarial=rpgan"), tmp_path)
