"""The acGAN route: encoder on G's samples, latent fit, class swap (gankit.editing.cond_projection)."""

import pytest
import torch

from gankit.editing.cond_projection import LatentEncoder, conditional_edit, fit_latent, train_encoder
from gankit.errors import GankitError
from gankit.models.dcgan import DCGANGenerator


class ToyG(torch.nn.Module):
    """A conditional generator whose images clearly depend on z and c: tanh(A z + B[c])."""

    def __init__(self, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.z_dim, self.n_classes = 8, 3
        self.A = torch.nn.Parameter(torch.randn(3 * 32 * 32, 8, generator=g) * 0.3)
        self.B = torch.nn.Parameter(torch.randn(3, 3 * 32 * 32, generator=g) * 0.3)

    def forward(self, z, c):
        return torch.tanh(z @ self.A.T + self.B[c]).view(-1, 3, 32, 32)


def _g(seed=0):
    return ToyG(seed).eval()


def test_encoder_shapes_and_rejects_odd_sizes():
    assert LatentEncoder(32, 3, 8, width=4)(torch.zeros(2, 3, 32, 32)).shape == (2, 8)
    with pytest.raises(GankitError, match="power of two"):
        LatentEncoder(24, 3, 8)


def test_encoder_learns_to_invert_generator_samples():
    G = _g()
    g = torch.Generator().manual_seed(1)
    z = torch.randn(64, 8, generator=g)
    c = torch.randint(0, 3, (64,), generator=g)
    x = G(z, c).detach()
    E0 = LatentEncoder(32, 3, 8, width=8)
    before = float((E0(x) - z).square().mean().detach())
    E = train_encoder(G, 32, 3, steps=200, batch=32, width=8, seed=0)
    after = float((E(x) - z).square().mean().detach())
    assert after < 0.6 * before  # held-out samples: E has learnt something about z, not memorised


def test_fit_recovers_a_known_latent_and_edit_changes_only_the_class():
    G = _g()
    z_true = torch.randn(2, 8, generator=torch.Generator().manual_seed(3))
    c = torch.tensor([2, 2])
    x = G(z_true, c).detach()
    fit = fit_latent(G, x, c, E=None, steps=150, lr=0.05, prior_weight=0.0)
    assert max(fit.distance) < 0.5 * min(fit.start_distance)  # zeros start: far; after the fit: close
    recon = conditional_edit(G, fit.z, c)
    assert float((recon - x).abs().mean()) < 0.05
    other = conditional_edit(G, fit.z, torch.tensor([0, 0]))
    assert float((other - x).abs().mean()) > float((recon - x).abs().mean())  # the label matters
    assert all(not p.requires_grad for p in G.parameters())  # G's weights were never trained


def test_fit_rejects_unconditional_generators_and_bad_labels():
    G = DCGANGenerator(32, 3, z_dim=8, n_classes=0, width=4)
    with pytest.raises(GankitError, match="class-conditional"):
        fit_latent(G, torch.zeros(1, 3, 32, 32), torch.tensor([0]))
    with pytest.raises(GankitError, match="3 classes"):
        fit_latent(_g(), torch.zeros(1, 3, 32, 32), torch.tensor([5]))
