"""Attribute-editing tools: flips and grids, SSIM, content scores, counterfactual tasks, classifier."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data.base import Batch
from gankit.editing import attributes as A
from gankit.editing import scoring as S
from gankit.editing.classifier import load_classifier, save_classifier, train_classifier
from gankit.errors import CheckpointError, GankitError
from gankit.models.stargan import EditOut, StarGANGenerator
from gankit.models.stargan import attribute_grid, exclusive_groups, single_flips


def tiny_g(mask: bool, c_dim: int = 2, res: int = 16) -> StarGANGenerator:
    torch.manual_seed(0)
    return StarGANGenerator(res, 3, c_dim, width=8, n_res=1, mask=mask, frame=1 if mask else 0).eval()


def test_single_flips_flip_exactly_one_attribute():
    c = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    f = single_flips(c)
    assert f.shape == (3, 2, 3)
    for k in range(3):
        diff = (f[k] != c).float()
        assert torch.equal(diff[:, k], torch.ones(2)) and diff.sum() == 2
        assert torch.equal(f[k][:, k], 1 - c[:, k])


def test_exclusive_groups_come_from_attributes_that_never_occur_together():
    # columns: tone A, tone B, tone C, male, female, hat (hat co-occurs with everything)
    c = torch.tensor([[1, 0, 0, 1, 0, 1], [0, 1, 0, 0, 1, 1], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1],
                      [1, 0, 0, 0, 1, 0], [0, 1, 0, 1, 0, 0], [0, 0, 1, 0, 1, 1], [0, 0, 0, 0, 0, 0]]).float()
    assert exclusive_groups(c) == [[0, 1, 2], [3, 4]]
    # an attribute never present is in no group; a chain a-b, b-c with a and c together is no group
    assert exclusive_groups(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])) == [[0, 1]]
    chain = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    assert exclusive_groups(chain) == []


def test_single_flips_with_groups_clear_the_other_members_when_adding():
    c = torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    f = single_flips(c, [[0, 1, 2], [3, 4]])
    assert f[0].tolist() == [[1, 0, 0, 1, 0], [1, 0, 0, 0, 0]]  # add tone A: tone B cleared
    assert f[1].tolist() == [[0, 0, 0, 1, 0], [0, 1, 0, 0, 0]]  # remove tone B: no tone; add it
    assert f[4].tolist() == [[0, 1, 0, 0, 1], [0, 0, 0, 0, 1]]  # add female: male cleared
    assert torch.equal(single_flips(c, []), single_flips(c))
    for k in range(5):  # the flipped attribute always takes the opposite value
        assert torch.equal(f[k][:, k], 1 - c[:, k])


@pytest.mark.parametrize("mask", [False, True])
def test_attribute_grid_columns(mask):
    g = tiny_g(mask)
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    imgs, k = attribute_grid(g, x, c)
    assert k == (5 if mask else 3) and imgs.shape == (3 * k, 3, 16, 16)
    grid = imgs.view(3, k, 3, 16, 16)
    assert torch.equal(grid[:, 0], x)  # first column: the inputs
    flips = single_flips(c)
    with torch.no_grad():
        for j in range(2):
            assert torch.allclose(grid[:, 1 + j], g(x, flips[j]), atol=1e-6)
        if mask:
            out = g(x, flips[0], parts=True)
            assert torch.allclose(grid[:, 3], (out.mask * 2 - 1).expand_as(x), atol=1e-6)
            assert torch.allclose(grid[:, 4], out.segment, atol=1e-6)
            assert grid[:, 3].min() >= -1 and grid[:, 3].max() <= 1


def test_attribute_grid_flips_respect_exclusive_groups():
    g = tiny_g(False, c_dim=3)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    c = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    imgs, k = attribute_grid(g, x, c, groups=[[0, 1]])
    grid = imgs.view(2, k, 3, 16, 16)
    with torch.no_grad():
        want = g(x, torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))  # row 2: adding attribute 0 clears 1
        assert torch.allclose(grid[:, 1], want, atol=1e-6)
        assert not torch.allclose(grid[:, 1], g(x, single_flips(c)[0]), atol=1e-6)


def _ssim_reference(a: np.ndarray, b: np.ndarray, size=11, sigma=1.5, L=2.0) -> float:
    """Straight loops over valid windows of one channel (Wang et al. 2004)."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-r**2 / (2 * sigma**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    vals = []
    for i in range(a.shape[0] - size + 1):
        for j in range(a.shape[1] - size + 1):
            pa, pb = a[i:i + size, j:j + size], b[i:i + size, j:j + size]
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb = (w * (pa - ma) ** 2).sum(), (w * (pb - mb) ** 2).sum()
            cov = (w * (pa - ma) * (pb - mb)).sum()
            vals.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(vals))


def test_ssim_matches_known_values():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(2, 1, 14, 14, generator=g) * 2 - 1
    b = (a + 0.3 * torch.randn(2, 1, 14, 14, generator=g)).clamp(-1, 1)
    got = S.ssim(a, b)
    for i in range(2):
        assert got[i].item() == pytest.approx(_ssim_reference(a[i, 0].double().numpy(), b[i, 0].double().numpy()), abs=1e-5)
    assert torch.allclose(S.ssim(a, a), torch.ones(2))
    assert torch.allclose(S.ssim(a, b), S.ssim(b, a))
    # constant images: SSIM = (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1) exactly
    ca, cb = torch.full((1, 3, 16, 16), 0.5), torch.full((1, 3, 16, 16), -0.25)
    c1 = (0.01 * 2) ** 2
    assert S.ssim(ca, cb).item() == pytest.approx((2 * 0.5 * -0.25 + c1) / (0.25 + 0.0625 + c1), rel=1e-5)


def test_l1_outside_mask_ignores_masked_pixels():
    x = torch.zeros(1, 3, 8, 8)
    m = torch.zeros(1, 1, 8, 8)
    m[..., 2:6, 2:6] = 1
    y = x + m  # changed only inside the mask
    assert S.l1_outside_mask(x, y, m).item() == 0
    y2 = y.clone()
    y2[..., 0, 0] = 1  # one outside pixel changed by 1 in 3 channels
    assert S.l1_outside_mask(x, y2, m).item() == pytest.approx(3 / (3 * (64 - 16)))


class _Identity(torch.nn.Module):
    """An 'editor' that changes nothing (mask all zeros)."""

    resolution = 16

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, c, parts=False):
        out = EditOut(x, torch.zeros_like(x[:, :1]), x)
        return out if parts else x


class _Oracle(torch.nn.Module):
    """A 'classifier' that reads attribute 0 from the mean brightness."""

    resolution = 16
    gankit_names = ["Bright", "Other"]

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def features(self, x):
        return x.flatten(1)[:, :8] + 2

    def forward(self, x):
        m = x.mean((1, 2, 3))
        return torch.stack([m * 100, torch.full_like(m, -100)], 1)


def test_flip_scores_of_a_do_nothing_editor():
    x = torch.cat([torch.full((2, 3, 16, 16), 0.8), torch.full((2, 3, 16, 16), -0.8)])
    c = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    rep = S.flip_scores(_Identity(), x, c, ["Bright", "Other"], _Oracle())
    assert rep["n_edits"] == 8 and rep["l1"] == 0 and rep["l1_outside_mask"] == 0 and rep["feature_distance"] == 0
    # nothing was flipped, so the oracle sees the *source* value for every edited attribute
    assert rep["attr_accuracy_per_attribute"] == {"Bright": 0.0, "Other": 0.0}
    with pytest.raises(GankitError, match="Missing"):
        S.flip_scores(_Identity(), x, c, ["Bright", "Missing"], _Oracle())


class _AddOnly(_Identity):
    """An editor that can only *add* brightness: target Bright = 1 -> bright image, else unchanged."""

    def forward(self, x, c, parts=False):
        y = torch.where(c[:, :1, None, None] > 0.5, torch.full_like(x, 0.8), x)
        out = EditOut(y, torch.ones_like(x[:, :1]), y)
        return out if parts else y


def test_flip_scores_split_adding_and_removing():
    x = torch.cat([torch.full((2, 3, 16, 16), 0.8), torch.full((3, 3, 16, 16), -0.8)])
    c = torch.tensor([[1.0]] * 2 + [[0.0]] * 3)
    rep = S.flip_scores(_AddOnly(), x, c, ["Bright"], _Oracle())
    # Bright flips: 3 dark images -> add (all succeed), 2 bright ones -> remove (all fail)
    assert rep["attr_accuracy_add"] == 1.0 and rep["attr_accuracy_remove"] == 0.0
    assert rep["attr_accuracy"] == pytest.approx(3 / 5)
    assert "removing (target 0)" in S.format_table(rep)
    ident = S.flip_scores(_Identity(), x, c, ["Bright"], _Oracle())
    assert ident["attr_accuracy_add"] == 0.0 and ident["attr_accuracy_remove"] == 0.0
    # pooled over attributes: "Other" is 0 everywhere, so its 5 flips are adds the oracle never sees
    c2 = torch.cat([c, torch.zeros(5, 1)], 1)
    rep2 = S.flip_scores(_AddOnly(), x, c2, ["Bright", "Other"], _Oracle())
    assert rep2["attr_accuracy_add"] == pytest.approx(3 / 8) and rep2["attr_accuracy_remove"] == 0.0


def test_flip_scores_with_exclusive_groups_never_ask_for_two_at_once():
    seen = []

    class Recorder(_Identity):
        def forward(self, x, c, parts=False):
            seen.append(c.clone())
            return super().forward(x, c, parts)

    x = torch.zeros(2, 3, 16, 16)
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    rep = S.flip_scores(Recorder(), x, c, ["Bright", "Other"], _Oracle(), groups=[[0, 1]])
    assert rep["exclusive"] == [["Bright", "Other"]]
    assert all(float(t.sum(1).max()) <= 1 for t in seen)  # plain flips would give [1, 1]
    n = len(seen)
    S.flip_scores(Recorder(), x, c, ["Bright", "Other"], _Oracle())
    assert any(float(t.sum(1).max()) == 2 for t in seen[n:])  # without groups: "A and B"


def _layout(root, rows, pairs):
    (root / "images").mkdir(parents=True)
    with open(root / "attributes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "split", "A", "B"])
        for name, split, a, b in rows:
            Image.new("RGB", (16, 16), (40 + 80 * a, 40 + 80 * b, 90)).save(root / name)
            w.writerow([name, split, a, b])
    with open(root / "counterfactuals.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["src", "dst", "split", "factor", "from", "to", "changed"])
        w.writerows(pairs)


def test_counterfactual_tasks_keep_only_unique_targets(tmp_path):
    rows = [(f"images/{n}.png", "test", a, b) for n, a, b in
            [("p", 0, 0), ("q", 1, 0), ("r", 1, 0), ("s", 0, 1), ("t", 0, 0)]]
    pairs = [["images/p.png", "images/q.png", "test", "tone", 0, 1, "A"],
             ["images/p.png", "images/r.png", "test", "tone", 0, 2, "A"],   # same target vector as q: ambiguous
             ["images/p.png", "images/s.png", "test", "gender", 0, 1, "B"],
             ["images/p.png", "images/t.png", "test", "hair", 0, 1, "C"]]   # C not modelled: invisible
    _layout(tmp_path, rows, pairs)
    tasks = S.counterfactual_pairs(tmp_path, ["A", "B"], "test")
    assert ("images/p.png", "images/s.png", [0.0, 1.0]) in tasks
    assert ("images/s.png", "images/p.png", [0.0, 0.0]) in tasks
    assert not any(s == "images/p.png" and d in ("images/q.png", "images/r.png", "images/t.png") for s, d, _ in tasks)
    assert ("images/q.png", "images/p.png", [0.0, 0.0]) in tasks  # reverse direction is unique
    rep = S.counterfactual_scores(_Identity(), tmp_path, ["A", "B"], "test")
    assert rep["l1"] == pytest.approx(rep["identity_l1"]) and rep["l1"] > 0 and rep["ssim"] < 1
    assert rep["pairs"] == len(tasks) and S.counterfactual_scores(_Identity(), tmp_path, ["A", "B"], "test", limit=2)["pairs"] == 2
    assert A.lookup_attributes(tmp_path / "images" / "s.png", ["B", "A"]).tolist() == [1.0, 0.0]


def test_parse_sets_and_errors():
    names = ["Male", "Blond_Hair"]
    assert A.parse_sets(["Blond_Hair=1", "Male=0"], names) == {1: 1.0, 0: 0.0}
    with pytest.raises(GankitError, match="did you mean"):
        A.parse_sets(["Blond_Hiar=1"], names)
    with pytest.raises(GankitError, match="NAME=0 or NAME=1"):
        A.parse_sets(["Male=2"], names)


class _Toy(torch.utils.data.Dataset):
    """Bright images have attribute 0; attribute 1 is a left/right colour split."""

    target_kind, attr_names, channels, resolution = "attributes", ["Bright", "Red_Left"], 3, 16

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.c = (torch.rand(n, 2, generator=g) > 0.5).float()
        self.x = []
        for a, b in self.c.tolist():
            img = torch.full((3, 16, 16), 200 if a else 50, dtype=torch.uint8)
            img[0, :, : 8] = 255 if b else 0
            self.x.append(img)

    def __len__(self):
        return len(self.c)

    def __getitem__(self, i):
        return self.x[i], self.c[i]


def test_classifier_trains_reports_and_round_trips(tmp_path):
    model, rep = train_classifier(_Toy(64, 0), _Toy(32, 1), steps=40, batch=16, lr=3e-3, width=8)
    assert rep["test"]["n"] == 32 and rep["test"]["per_attribute"]["Bright"]["accuracy"] >= 0.9
    save_classifier(model, tmp_path / "cls", rep)
    loaded, meta = load_classifier(tmp_path / "cls")
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    assert torch.equal(loaded(x), model(x)) and loaded.gankit_names == ["Bright", "Red_Left"]
    assert meta["test"]["accuracy"] == rep["test"]["accuracy"]
    with pytest.raises(CheckpointError, match="classifier train"):
        load_classifier(tmp_path / "nothing")


def test_cheap_score():
    assert S.cheap_score({"attr_accuracy": 0.8, "counterfactual": {"l1": 0.1}}) == pytest.approx(0.7)
    assert S.cheap_score({"counterfactual": {"l1": 0.1}}) == pytest.approx(-0.1)
    with pytest.raises(GankitError):
        S.cheap_score({})


def test_edit_fid_goes_through_metrics_api():
    from gankit.metrics.sources import ArraySource

    def stub(batch):  # uint8 [N, 3, H, W] -> [N, 4] features (Inception is too slow for a unit test)
        x = batch.float() / 255
        return torch.stack([x[:, 0].mean((1, 2)), x[:, 1].mean((1, 2)), x[:, 2].mean((1, 2)), x.std((1, 2, 3))], 1)

    g = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (12, 3, 8, 8), generator=g, dtype=torch.uint8)
    same = S.edit_fid(real, ArraySource(real, name="real"), extractor=stub)
    assert same["fid"]["value"] == pytest.approx(0, abs=1e-6) and "ref=real (12)" in same["fid"]["protocol"]
    shifted = S.edit_fid((real // 2), ArraySource(real, name="real"), extractor=stub)
    assert shifted["fid"]["value"] > 0.01


@pytest.mark.parametrize("preset", ["stargan_emoji", "aclgan_emoji", "stargan_celeba", "aclgan_celeba"])
def test_presets_build_networks_and_recipe(preset):
    from gankit.config import load_config
    from gankit.train import build

    cfg = load_config(preset, ["model.generator.width=4", "model.discriminator.width=4"])
    assert cfg.description and len(cfg.data.attrs) == 5

    class Src:
        attr_names = cfg.data.attrs

    nets = build.build_nets(cfg, Src())
    recipe = build.build_recipe(cfg, nets, torch.Generator().manual_seed(0))
    r = cfg.data.resolution
    imgs, k = recipe.preview(Batch(torch.zeros(1, 3, r, r), torch.zeros(1, 5)))
    assert imgs.shape == (k, 3, r, r) and k == 6 + 2 * int(nets["G"].use_mask)
    assert cfg.optim.n_critic == (5 if preset.startswith("stargan") else 1)
