"""Text-to-image: captions (English + Korean), tokenisation, text encoder, GAN-INT-CLS, StackGAN."""

from __future__ import annotations

import csv

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.data.text import CharVocab
from gankit.errors import ConfigError, DataError
from gankit.losses.text import ca_kl, joint_embedding_loss, matching_aware_d_loss, retrieval_at_1
from gankit.models.text_encoder import CharCNNRNN, ImageEncoder, load_text_encoder, save_text_encoder

R = 8
CAPS = [["an old woman with white hair", "흰 머리 할머니"], ["a man with dark skin", "검은색 피부의 남자"],
        ["a baby", "아기"], ["a girl with red hair", "빨간 머리 여자아이"]]


class TinyCaptions(torch.utils.data.Dataset):
    """Four coloured squares, each with an English and a Korean caption and 2 attributes."""

    fields = (("x", "image"), ("text", "text"), ("c", "attributes"))
    channels, attr_names = 3, ["a", "b"]

    def __init__(self, resolution: int = R, n: int = 8):
        g = torch.Generator().manual_seed(0)
        self.resolution = resolution
        self.x = (torch.rand(n, 3, resolution, resolution, generator=g) * 255).to(torch.uint8)
        self.captions = [CAPS[i % 4] for i in range(n)]
        self.c = torch.tensor([[i % 2, (i // 2) % 2] for i in range(n)], dtype=torch.float32)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], "\n".join(self.captions[i]), self.c[i]


@pytest.fixture
def encoder_dir(tmp_path):
    torch.manual_seed(0)
    vocab = CharVocab.build(c for cs in CAPS for c in cs)
    out = save_text_encoder(tmp_path / "te", CharCNNRNN(len(vocab), 8, char_dim=4, width=8), vocab,
                            ImageEncoder(R, 3, 8, 4), {"test_captions": [c for cs in CAPS for c in cs]})
    return str(out)


# ------------------------------------------------------------------------------ losses
def test_matching_aware_d_loss_is_reeds_formula():
    g = torch.Generator().manual_seed(1)
    sr, sw, sf = (torch.randn(5, generator=g) for _ in range(3))
    s = torch.sigmoid
    expected = -(torch.log(s(sr)).mean() + 0.5 * (torch.log(1 - s(sw)).mean() + torch.log(1 - s(sf)).mean()))
    assert torch.allclose(matching_aware_d_loss(sr, sw, sf), expected, atol=1e-6)


def test_ca_kl_is_the_closed_form_gaussian_kl():
    g = torch.Generator().manual_seed(2)
    mu, logvar = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    ref = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).mean()
    assert torch.allclose(ca_kl(mu, logvar), ref, atol=1e-6)
    assert float(ca_kl(torch.zeros(2, 3), torch.zeros(2, 3))) == 0.0
    # one element by hand: mu = 1, sigma^2 = e -> 0.5 (1 + e - 1 - 1)
    assert abs(float(ca_kl(torch.ones(1, 1), torch.ones(1, 1))) - 0.5 * (torch.e - 1)) < 1e-6


def test_joint_embedding_loss_by_hand():
    img = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    txt = torch.tensor([[0.5, 0.0], [0.2, 2.0]])
    s = img @ txt.t()  # [[0.5, 0.2], [0, 2]]
    img_side = [max(0, 1 + s[0, 1] - s[0, 0]), max(0, 1 + s[1, 0] - s[1, 1])]  # 0.7, 0
    txt_side = [max(0, 1 + s[1, 0] - s[0, 0]), max(0, 1 + s[0, 1] - s[1, 1])]  # 0.5, 0
    expected = (sum(img_side) + sum(txt_side)) / 2
    assert abs(float(joint_embedding_loss(img, txt)) - float(expected)) < 1e-6
    assert abs(expected - 0.6) < 1e-6


def test_r_precision_perfect_and_chance_and_shared_captions():
    eye = torch.eye(6)
    assert retrieval_at_1(eye, eye, 3, torch.Generator().manual_seed(0)) == 1.0
    assert retrieval_at_1(eye, -eye, 3, torch.Generator().manual_seed(0)) == 0.0
    # rows 0 and 1 share a caption (identical text embedding): never each other's wrong caption
    txt = eye.clone()
    txt[1] = txt[0]
    img = eye.clone()
    img[1] = img[0]
    keys = ["same", "same", "c", "d", "e", "f"]
    assert retrieval_at_1(img, txt, 3, torch.Generator().manual_seed(0), keys=keys) == 1.0
    with pytest.raises(ValueError):
        retrieval_at_1(eye, eye, 6)


# ------------------------------------------------------------------------------ text
def test_hangul_captions_encode_and_decode():
    vocab = CharVocab.build(["할머니 흰 머리", "an old woman"])
    for cap in ("할머니 흰 머리", "an old woman", "흰 woman"):
        assert vocab.decode(vocab.encode(cap)) == cap
    assert len(vocab.encode("할머니")) == 3  # one token per syllable
    decomposed = "\u1112\u1161\u11af"  # 할 typed as three jamo: NFC makes it the syllable
    assert vocab.encode(decomposed) == vocab.encode("할")
    ids = vocab.encode("할아버지")  # 아, 버, 지 were never seen
    assert ids[0] == vocab.index["할"] and ids[1:] == [1, 1, 1]
    assert vocab.decode(ids) == "할<unk><unk><unk>"
    again = CharVocab.from_json(vocab.to_json())
    assert again.encode("흰 머리") == vocab.encode("흰 머리")
    with pytest.raises(DataError, match="empty"):
        vocab.batch(["   "], 16)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit is deprecated upstream; user encoders still use it
def test_encoder_round_trip_and_torchscript(encoder_dir, tmp_path):
    enc = load_text_encoder(encoder_dir)
    e1 = enc.encode(["흰 머리 할머니", "a baby"])
    assert e1.shape == (2, 8) and enc.emb_dim == 8 and enc.image is not None
    assert torch.equal(load_text_encoder(encoder_dir).encode(["흰 머리 할머니"])[0], e1[0])

    class LenEnc(torch.nn.Module):
        def forward(self, captions: list[str]) -> torch.Tensor:
            return torch.tensor([[float(len(c)), 1.0, 0.0] for c in captions])

    torch.jit.script(LenEnc()).save(str(tmp_path / "enc.pt"))
    ts = load_text_encoder(tmp_path / "enc.pt")
    assert ts.emb_dim == 3 and ts.encode(["abcd"]).tolist() == [[4.0, 1.0, 0.0]]
    with pytest.raises(ConfigError, match="expected a folder"):
        load_text_encoder(tmp_path / "missing")


def test_emoji_captions_from_an_emoji_folder(tmp_path):
    from gankit.data.captions import EmojiCaptions, build_emoji_captions, phrasings_en, phrasings_ko

    assert phrasings_en("older", "female", "person", "white", 0, 3) == [
        "an old woman with white hair and medium skin", "medium skinned old woman with white hair"]
    assert phrasings_ko("older", "female", "white", 0, 3) == ["갈색 피부의 흰 머리 할머니", "할머니, 흰 머리, 갈색 피부"]
    assert phrasings_en("adult", "male", "teacher", "none", 1, 5)[0] == "a man teacher with a beard and dark skin"
    root = tmp_path / "emoji"
    (root / "images").mkdir(parents=True)
    rows = [("images/1f474.png", "train", "U+1F474", 0, "older", "male"),
            ("images/1f469_1f3fd.png", "test", "U+1F469 U+1F3FD", 3, "adult", "female")]
    from gankit.data.emoji import ATTR_NAMES

    with open(root / "index.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "split", "group", "kind", "name", "sequence", "tone", "age", "gender", "hair", "beard"])
        for file, split, seq, tone, age, gender in rows:
            w.writerow([file, split, "g" + split, "person", "x", seq, tone, age, gender, "none", 0])
            Image.new("RGB", (R, R), (200, 100, 50)).save(root / file)
    with open(root / "attributes.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "split", *ATTR_NAMES])
        for file, split, *_ in rows:
            w.writerow([file, split, *([0] * len(ATTR_NAMES))])
    names = {"\U0001F474": {"en": "old man", "ko": "할아버지"}}  # stand-in for PyPI emoji's CLDR names
    build_emoji_captions(root, names=names)
    src = EmojiCaptions(root, "train")
    x, text, c = src[0]
    assert x.shape == (3, R, R) and c.shape == (len(ATTR_NAMES),)
    assert text.split("\n") == ["an old man with yellow skin", "yellow skinned old man", "노란 피부의 할아버지",
                                "할아버지, 노란 피부", "old man", "할아버지"]
    test = EmojiCaptions(root, "test")
    assert test.captions[0][0] == "a woman with medium skin" and len(test.captions[0]) == 4  # no CLDR name given
    with pytest.raises(DataError, match="gankit data emoji"):
        EmojiCaptions(tmp_path / "nothing")


# ------------------------------------------------------------------------------ recipes
def _cfg(tiny, recipe, enc, *extra, res=R):
    gen = {"gan_int_cls": "gan_int_cls", "stackgan1": "stackgan1", "stackgan2": "stackgan2"}[recipe]
    return tiny(None, f"recipe.name={recipe}", f"recipe.kwargs.text_encoder={enc}", f"model.generator.name={gen}",
                "model.discriminator.name=text_match", f"data.resolution={res}", "model.generator.width=4",
                "model.discriminator.width=4", "train.ema=0.9", *extra)


def _trainer(cfg, out, resume=False, res=R):
    from gankit.train.trainer import Trainer

    return Trainer(cfg, out, resume=resume, source=TinyCaptions(res))


def _changed(before, net):
    return any(not torch.equal(before[k], v) for k, v in net.state_dict().items() if v.is_floating_point())


@pytest.mark.parametrize("recipe,extra", [("gan_int_cls", ()), ("gan_int_cls", ("recipe.kwargs.cls=false",
                                                                                 "recipe.kwargs.interp=false")),
                                          ("stackgan1", ())])
def test_one_step_trains_g_and_d(tiny, one_thread, encoder_dir, tmp_path, recipe, extra):
    t = _trainer(_cfg(tiny, recipe, encoder_dir, "train.steps=1", *extra), tmp_path / "r")
    before = {r: {k: v.clone() for k, v in n.state_dict().items()} for r, n in t.nets.items()}
    t.fit()
    assert _changed(before["G"], t.nets["G"]) and _changed(before["D"], t.nets["D"])
    row = next(r for r in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines() if "d_total" in r)
    assert ('"kl"' in row) == (recipe == "stackgan1") and ('"g_int"' in row) == (extra == () and recipe == "gan_int_cls")
    assert ('"d_wrong"' in row) == ("recipe.kwargs.cls=false" not in extra)


@pytest.fixture
def stage1_run(tiny, encoder_dir, tmp_path):
    torch.manual_seed(0)
    _trainer(_cfg(tiny, "stackgan1", encoder_dir, "train.steps=2"), tmp_path / "s1").fit()
    return tmp_path / "s1"


def test_stage2_trains_over_a_frozen_stage1(tiny, one_thread, encoder_dir, stage1_run, tmp_path):
    from gankit.train.state import load_checkpoint

    cfg = _cfg(tiny, "stackgan2", encoder_dir, f"recipe.kwargs.stage1={stage1_run}", "train.steps=2", res=2 * R)
    t = _trainer(cfg, tmp_path / "s2", res=2 * R)
    t.fit()
    s1, _ = load_checkpoint(stage1_run)
    s2, _ = load_checkpoint(tmp_path / "s2")
    for k, v in s2.items():
        if k.startswith("G.g1."):  # Stage I's EMA weights, unchanged by Stage II's training (G and its EMA)
            assert torch.equal(v, s1["G_ema." + k[5:]]) and torch.equal(s2["G_ema." + k[2:]], v), k
    assert int(s2["G.loaded"]) == 1
    with pytest.raises(ConfigError, match="recipe.kwargs.stage1 .*no checkpoint"):
        _trainer(_cfg(tiny, "stackgan2", encoder_dir, f"recipe.kwargs.stage1={tmp_path}", res=2 * R), tmp_path / "x",
                 res=2 * R)


def test_stackgan_stage1_resumes_bit_exactly(tiny, one_thread, encoder_dir, resumes_bit_exactly):
    resumes_bit_exactly(lambda steps, out, resume: _trainer(
        _cfg(tiny, "stackgan1", encoder_dir, f"train.steps={steps}", "train.ckpt_every=2"), out, resume))


def test_stackgan_stage2_resumes_bit_exactly(tiny, one_thread, encoder_dir, stage1_run, resumes_bit_exactly):
    resumes_bit_exactly(lambda steps, out, resume: _trainer(
        _cfg(tiny, "stackgan2", encoder_dir, f"recipe.kwargs.stage1={stage1_run}", f"train.steps={steps}",
             "train.ckpt_every=2", res=2 * R), out, resume, res=2 * R))


def test_text2img_command_end_to_end(tiny, one_thread, encoder_dir, tmp_path, cli):
    torch.manual_seed(0)
    _trainer(_cfg(tiny, "gan_int_cls", encoder_dir, "train.steps=1"), tmp_path / "run").fit()
    code, out, err = cli("text2img", tmp_path / "run", "--caption", "흰 머리 할머니", "--caption", "a baby", "--n", "3",
                         "--out", tmp_path / "g.png")
    assert code == 0, err
    assert Image.open(tmp_path / "g.png").size == (3 * (R + 2) + 2, 2 * (R + 2) + 2)
    code, _, err = cli("text2img", tmp_path / "run", "--interpolate", "a baby", "아기", "--steps", "4", "--n", "2",
                       "--out", tmp_path / "s.png")
    assert code == 0 and Image.open(tmp_path / "s.png").size == (4 * (R + 2) + 2, 2 * (R + 2) + 2), err
    # the pipeline: one image per caption per z, the strip's ends are the captions' own images
    from gankit.pipelines import load_run
    from gankit.pipelines.text import caption_strip, text_to_image

    run = load_run(tmp_path / "run")
    assert text_to_image(run, ["a baby", "아기"], n=2, seed=3).shape == (4, 3, R, R)
    a = text_to_image(run, ["a baby", "아기"], n=1, seed=3)
    strip = caption_strip(run, "a baby", "아기", steps=3, n=1, seed=3)
    assert torch.allclose(strip[0], a[0], atol=1e-5) and torch.allclose(strip[2], a[1], atol=1e-5)
    assert not torch.allclose(strip[1], a[0], atol=1e-3)
    for args, needle in ((("--caption", "  "), "caption is empty"), (("--caption", "x", "--n", "0"), "--n 0"),
                         ((), "give --caption")):
        code, _, err = cli("text2img", tmp_path / "run", *args, "--out", tmp_path / "x.png")
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    code, _, err = cli("text2img", tmp_path / "no-run", "--caption", "a", "--out", tmp_path / "x.png")
    assert code == 2 and "no-run" in err and len(err.strip().splitlines()) == 1


class ConstantClassifier(torch.nn.Module):
    """Says attribute a is present and b absent on every image (accuracy 0.5 on TinyCaptions)."""

    resolution = R

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        assert x.shape[-1] == R
        return torch.tensor([[5.0, -5.0]]).expand(len(x), 2) + self.w


def test_evaluation_reports_r_precision_and_attribute_accuracy(tiny, one_thread, encoder_dir, tmp_path):
    from gankit.pipelines import load_run
    from gankit.pipelines.text import evaluate_text2img

    torch.manual_seed(0)
    _trainer(_cfg(tiny, "gan_int_cls", encoder_dir, "train.steps=1"), tmp_path / "run").fit()
    run = load_run(tmp_path / "run")
    rep = evaluate_text2img(run, TinyCaptions(n=8), ConstantClassifier(), n_wrong=3)
    rp = rep["r_precision"]
    assert rep["n"] == 8 and rp["candidates"] == 4 and rp["chance"] == 0.25
    assert all(0.0 <= rp[k] <= 1.0 for k in ("generated", "real", "random_caption"))
    for k in ("generated", "real", "random_caption"):  # a: half the images have it; b: half lack it
        assert rep["attributes"][k]["accuracy"] == 0.5 and rep["attributes"][k]["balanced_accuracy"] == 0.5
        assert rep["attributes"][k]["reliable_balanced"] is None  # no attribute is read reliably on real images
    assert rep["attributes"]["reliable"] == []


def test_bad_configs_are_one_line(tiny, encoder_dir, tmp_path):
    from gankit.train.trainer import Trainer

    for extra, needle in ((("recipe.kwargs.text_encoder=",), "recipe.kwargs.text_encoder: set it"),
                          ((f"recipe.kwargs.text_encoder={tmp_path}/none",), "expected a folder"),
                          (("recipe.kwargs.beta=2.0",), "beta=2.0")):
        cfg = _cfg(tiny, "gan_int_cls", encoder_dir, *extra)
        with pytest.raises(ConfigError, match=needle) as e:
            Trainer(cfg, tmp_path / "r", source=TinyCaptions())
        assert "\n" not in str(e.value)
    cfg = _cfg(tiny, "gan_int_cls", encoder_dir)
    with pytest.raises(ConfigError, match="caption dataset"):  # images without captions
        Trainer(cfg, tmp_path / "r2").fit()


@pytest.mark.parametrize("preset", ["gan_int_cls_emoji", "gan_int_cls_fashion", "stackgan1_emoji", "stackgan2_emoji"])
def test_presets_load_and_take_a_step(tiny, one_thread, encoder_dir, stage1_run, tmp_path, preset):
    from gankit.config import load_config
    from gankit.train.build import check_config

    check_config(load_config(preset))  # every key of the preset is read (data keys included)
    res = 2 * R if preset == "stackgan2_emoji" else R
    extra = [f"recipe.kwargs.stage1={stage1_run}"] if preset == "stackgan2_emoji" else []
    cfg = tiny(preset, f"recipe.kwargs.text_encoder={encoder_dir}", f"data.resolution={res}", "train.steps=1",
               "model.z_dim=8", "model.generator.width=4", "model.discriminator.width=4", *extra)
    t = _trainer(cfg, tmp_path / preset, res=res)
    assert t.fit().step == 1
