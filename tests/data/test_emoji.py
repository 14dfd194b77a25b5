"""Emoji people: attribute parsing, split by base, counterfactual pairs, tiny build, loader, CLI."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest
import torch

from gankit.data import emoji as E
from gankit.errors import DataError

HAS_FONT = Path(E.FONT_PATH).is_file()
needs_font = pytest.mark.skipif(not HAS_FONT, reason=f"{E.FONT_PATH} absent: apt-get install -y {E.FONT_PACKAGE}")
S = lambda *cps: "".join(map(chr, cps))  # noqa: E731


def _on(seq: str) -> set[str]:
    return {n for n, v in E.parse_sequence(seq).attributes().items() if v}


def test_parse_known_sequences():
    old = E.parse_sequence(S(0x1F474, 0x1F3FD))  # old man, medium skin tone
    assert (old.tone, old.age, old.gender, old.group) == (3, "older", "male", "man")
    assert _on(S(0x1F474, 0x1F3FD)) == {"Old", "Male", "Tone_3"}
    assert _on(S(0x1F468, 0x200D, 0x1F9B0)) == {"Red_Hair", "Male"}  # man: red hair
    assert _on(S(0x1F469, 0x1F3FF, 0x200D, 0x1F9B2)) == {"Female", "Bald", "Tone_5", "Dark_Skin"}
    assert _on(S(0x1F471, 0x1F3FB, 0x200D, 0x2642, 0xFE0F)) == {"Blond_Hair", "Male", "Tone_1", "Light_Skin"}
    assert _on(S(0x1F9D4, 0x200D, 0x2640, 0xFE0F)) == {"Beard", "Female"}  # woman: beard
    assert _on(S(0x1F9D1, 0x200D, 0x1F9B3)) == {"White_Hair"}  # neutral person: Male = Female = 0
    assert _on(S(0x1F476)) == {"Baby", "Young"}
    assert _on(S(0x1F466, 0x1F3FC)) == {"Young", "Male", "Tone_2", "Light_Skin"}
    police = E.parse_sequence(S(0x1F46E, 0x1F3FE, 0x200D, 0x2640, 0xFE0F))
    assert (police.kind, police.gender, police.tone) == ("police officer", "female", 4)
    job = E.parse_sequence(S(0x1F469, 0x200D, 0x2695, 0xFE0F))
    assert (job.group, job.gender, job.age) == ("health worker", "female", "adult")
    assert E.parse_sequence(S(0x1F478)).gender == "female" and E.parse_sequence(S(0x1F47C)).age == "baby"


@pytest.mark.parametrize("seq", [
    S(0x1F600),  # grinning face: not a person
    S(0x1F476, 0x200D, 0x1F9B0),  # hair on a baby is not a Unicode sequence
    S(0x1F468, 0x200D, 0x2642, 0xFE0F),  # man is already male
    S(0x1F468, 0x200D, 0x1F384),  # only the person form of Mx Claus exists
    S(0x1F3FD, 0x1F474),  # tone before its base
    S(0x1F468, 0x1F9B0),  # missing ZWJ
])
def test_parse_rejects_non_people_sequences(seq):
    with pytest.raises(ValueError):
        E.parse_sequence(seq)


def _all_infos():
    return [E.parse_sequence(s) for s in E.candidate_sequences()]


def test_candidates_unique_and_six_tones_per_form():
    seqs = E.candidate_sequences()
    assert len(seqs) == len(set(seqs)) and len(seqs) % 6 == 0
    infos = [E.parse_sequence(s) for s in seqs]
    assert len({(i.kind, i.factors) for i in infos}) == len(infos)  # no two share all labels
    assert {i.tone for i in infos} == set(range(6))
    names = {E.file_name(s) for s in seqs}
    assert len(names) == len(seqs)


def test_split_by_base_is_disjoint_deterministic_and_covers_attributes():
    infos = _all_infos()
    split = E.split_groups(infos, seed=0)
    assert split == E.split_groups(infos, seed=0) and split != E.split_groups(infos, seed=1)
    assert set(split) == {i.group for i in infos}  # one split per group: no base in both sets
    test_share = sum(split[i.group] == "test" for i in infos) / len(infos)
    assert 0.15 < test_share < 0.35
    for name in E.ATTR_NAMES:
        per = {split[i.group] for i in infos if i.attributes()[name]}
        assert per == {"train", "test"}, name
    assert {split[i.group] for i in infos if i.kind == "person" and i.gender == "male"} in ({"train"}, {"test"})


def test_counterfactual_pairs_differ_in_exactly_the_named_factor():
    infos = _all_infos()
    pairs = E.counterfactual_pairs(infos)
    factors = {f for _, _, f in pairs}
    assert factors == set(E.FACTORS)
    for i, j, f in pairs:
        a, b = infos[i], infos[j]
        assert a.kind == b.kind
        diff = [name for name, x, y in zip(E.FACTORS, a.factors, b.factors) if x != y]
        assert diff == [f]
    # the red-haired man's tone-3 counterfactual of the plain man exists
    idx = {x.seq: k for k, x in enumerate(infos)}
    man, red = idx[S(0x1F468, 0x1F3FD)], idx[S(0x1F468, 0x1F3FD, 0x200D, 0x1F9B0)]
    assert (min(man, red), max(man, red), "hair") in set(pairs)


def test_missing_font_names_the_package(tmp_path):
    with pytest.raises(DataError) as e:
        E.build_emoji_dataset(tmp_path / "out", 64, font_path=tmp_path / "nofont.ttf", progress=False)
    assert "apt-get install -y fonts-noto-color-emoji" in str(e.value) and "\n" not in str(e.value)


def test_unknown_group_is_an_error(tmp_path):
    with pytest.raises(DataError, match="unknown group 'wizard'"):
        E.build_emoji_dataset(tmp_path, 64, groups=["wizard"], progress=False)


@needs_font
def test_single_glyph_check():
    font = E.load_font()
    ref = font.getlength(chr(0x1F600))
    for seq, ok in [(S(0x1F474, 0x1F3FD), True), (S(0x1F468, 0x200D, 0x1F9B0), True),
                    (S(0x1F474, 0x200D, 0x1F9B0), False),  # old man + red hair: two glyphs
                    (S(0xE000), False)]:  # private use: no glyph, draws nothing
        assert E.is_single_glyph(font, seq, E.render(font, seq), ref) is ok, E.codepoints(seq)


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@needs_font
def test_tiny_build_files_pairs_and_loader(tmp_path):
    out = tmp_path / "emoji"
    summary = E.build_emoji_dataset(out, 32, groups=["man", "woman", "police officer"], seed=3, progress=False)
    attrs, index, pairs = _read(out / "attributes.csv"), _read(out / "index.csv"), _read(out / "counterfactuals.csv")
    assert summary["images"] == len(attrs) == len(index) == 2 * 9 * 6 + 3 * 6
    assert summary["pairs"] == len(pairs) > 0 and summary["dropped"]["not_one_glyph"] == 0
    assert all((out / r["file"]).is_file() for r in attrs)
    splits = {}
    for r in index:
        assert splits.setdefault(r["group"], r["split"]) == r["split"]  # a base never straddles splits
    assert set(splits.values()) == {"train", "test"}
    by_file = {r["file"]: r for r in attrs}
    for p in pairs:
        a, b = by_file[p["src"]], by_file[p["dst"]]
        changed = [n for n in E.ATTR_NAMES if a[n] != b[n]]
        assert changed == p["changed"].split(";")
        ia, ib = (next(r for r in index if r["file"] == f) for f in (p["src"], p["dst"]))
        assert [f for f in E.FACTORS if ia[f] != ib[f]] == [p["factor"]]
        assert (ia[p["factor"]], ib[p["factor"]]) == (p["from"], p["to"])
    assert {p["factor"] for p in pairs} == {"tone", "age", "gender", "hair", "beard"}

    train = E.EmojiPeople(out, "train", attrs=["Male", "Red_Hair"])
    test = E.EmojiPeople(out, "test", resolution=16)
    assert len(train) + len(test) == summary["images"]
    x, a = train[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.uint8 and a.shape == (2,)
    assert test[0][0].shape == (3, 16, 16) and test.n_classes == len(E.ATTR_NAMES)
    corner = x[:, 0, 0].tolist()
    assert corner == list(E.BACKGROUND)  # composited on the fixed background colour


def test_loader_without_build_is_an_error(tmp_path):
    with pytest.raises(DataError, match="gankit data emoji"):
        E.EmojiPeople(tmp_path, "train")


@needs_font
def test_cli_builds_and_prints_summary(tmp_path, capsys):
    from gankit.cli import data as cli_data

    parser = argparse.ArgumentParser(prog="gankit")
    cli_data.add_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "emoji", "--size", "64", "--out", str(tmp_path / "e"),
                              "--groups", "facepalming,pregnant", "--seed", "1"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "36 images 64x64" in text and "counterfactual pairs:" in text and "Female" in text
    assert len(list((tmp_path / "e" / "images").glob("*.png"))) == 36
    with pytest.raises(SystemExit):
        parser.parse_args(["data", "emoji", "--size", "32", "--out", "x"])  # only 64 or 128
