"""Exemplar and label directions, latent arithmetic (exact on constructed latents)."""

from __future__ import annotations

import pytest
import torch

from gankit.editing import arithmetic as A
from gankit.editing import directions as D
from gankit.editing.media import save_latent
from gankit.errors import GankitError


def test_exemplar_direction_exact():
    base = torch.randn(6, 3, 5, dtype=torch.float64)
    d = torch.randn(3, 5, dtype=torch.float64)
    noise = torch.randn(6, 3, 5, dtype=torch.float64)
    noise = noise - noise.mean(0)  # zero-mean noise: the means differ by exactly d
    w_without = base + noise
    w_with = base + d + noise.flip(0)
    assert torch.allclose(D.exemplar_direction(w_with, w_without), d, atol=1e-12)
    # different set sizes: the mean of each set
    got = D.exemplar_direction(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[0.0, 1.0]]))
    assert torch.equal(got, torch.tensor([2.0, 2.0]))
    with pytest.raises(GankitError, match="trailing"):
        D.exemplar_direction(torch.zeros(2, 3), torch.zeros(2, 4))


def test_apply_direction_and_normalize():
    ws = torch.zeros(4, 3)
    out = D.apply_direction(ws, torch.tensor([1.0, 0.0, 2.0]), [0.0, 0.5, 1.0])
    assert out.shape == (3, 4, 3)
    assert torch.equal(out[2, 3], torch.tensor([1.0, 0.0, 2.0])) and torch.equal(out[1, 0], torch.tensor([0.5, 0.0, 1.0]))
    assert torch.equal(out[0], ws)
    assert float(D.normalize(torch.tensor([3.0, 4.0])).norm()) == pytest.approx(1.0)
    with pytest.raises(GankitError, match="zero"):
        D.normalize(torch.zeros(3))
    with pytest.raises(GankitError, match="does not fit"):
        D.apply_direction(ws, torch.zeros(5), [1.0])


def test_boundary_recovers_normal():
    g = torch.Generator().manual_seed(0)
    true = torch.tensor([3.0, -4.0, 0.0, 0.0])
    w = torch.randn(400, 4, generator=g) * torch.tensor([1.0, 2.0, 0.5, 3.0]) + 5  # scaled, shifted
    labels = ((w @ true / 5 - 0.3) > 0).float()
    n, b = D.fit_linear_boundary(w, labels)
    assert float(n.norm()) == pytest.approx(1.0, abs=1e-5)
    assert float(n @ (true / 5)) > 0.98  # cosine with the true normal
    acc = (((w @ n + b) > 0).float() == labels).float().mean()
    assert float(acc) > 0.97
    with pytest.raises(GankitError, match="one class"):
        D.fit_linear_boundary(w, torch.ones(400))


def test_label_direction_on_tiny_generator():
    from gankit.models.style import StyleGenerator

    torch.manual_seed(0)
    G = StyleGenerator(8, 3, 8, w_dim=8, mapping_layers=2, width=4, max_channels=8).eval().requires_grad_(False)
    d, info = D.label_direction(G, lambda x: x[:, 0].mean((1, 2)), n=128, threshold=0.0, batch=64,
                                generator=torch.Generator().manual_seed(1))
    assert d.shape == (8,) and float(d.norm()) == pytest.approx(1.0, abs=1e-5)
    assert info["n"] == 128 and 0 < info["positives"] < 128 and info["train_accuracy"] > 0.8
    # moving along the direction raises the score it was fit to
    w = G.mapping(torch.randn(16, 8, generator=torch.Generator().manual_seed(2)), update_w_avg=False)
    step = 3 * d.view(1, 1, -1)
    red = lambda ws: G.synthesis(ws, noise_mode="const")[:, 0].mean()  # noqa: E731
    assert float(red(w + step)) > float(red(w)) > float(red(w - step))


def test_direction_file_round_trip(tmp_path):
    d = torch.randn(4, 6)
    p = D.save_direction(tmp_path / "d.safetensors", d, {"kind": "test"})
    assert torch.equal(D.load_direction(p), d)
    with pytest.raises(GankitError, match="safetensors"):
        D.save_direction(tmp_path / "d.npz", d)


def test_parse_expression():
    assert A.parse_expression("A - B + C") == [(1, "A"), (-1, "B"), (1, "C")]
    assert A.parse_expression("- smiling-woman + man") == [(-1, "smiling-woman"), (1, "man")]
    for bad in ["", "A -", "A B", "A - + B"]:
        with pytest.raises(GankitError):
            A.parse_expression(bad)


def test_z_arithmetic_exact():
    g = torch.Generator().manual_seed(0)
    concepts = {n: torch.randn(3, 10, generator=g, dtype=torch.float64) for n in "ABC"}
    got = A.evaluate("A - B + C", concepts)
    want = concepts["A"].mean(0) - concepts["B"].mean(0) + concepts["C"].mean(0)
    assert torch.allclose(got, want, atol=1e-12)
    # concrete numbers: means of 3 vectors each
    c = {"x": torch.tensor([[0.0], [3.0], [6.0]]), "y": torch.tensor([[1.0], [1.0], [4.0]])}
    assert torch.equal(A.evaluate("x - y", c), torch.tensor([1.0]))
    with pytest.raises(GankitError, match="not found"):
        A.evaluate("x - q", c)


def test_load_concepts_files_and_folders(tmp_path):
    save_latent(tmp_path / "A.safetensors", {"z": torch.ones(3, 4)})
    for i in range(3):
        save_latent(tmp_path / "B" / f"{i}.npz", {"z": torch.full((4,), float(i))})
    key, cs = A.load_concepts(tmp_path, ["A", "B", "A"])
    assert key == "z" and cs["A"].shape == (3, 4) and cs["B"].shape == (3, 4)
    assert torch.equal(A.evaluate("A - B", cs), torch.zeros(4))
    save_latent(tmp_path / "W.npz", {"ws": torch.zeros(6, 4)})
    with pytest.raises(GankitError, match="mix"):
        A.load_concepts(tmp_path, ["A", "W"])
    with pytest.raises(GankitError, match="expected"):
        A.load_concepts(tmp_path, ["missing"])
