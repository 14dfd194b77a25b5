"""`--out` paths that cannot be written (train, sample) and `sample --class NAME` (issue 11)."""

from __future__ import annotations

import os

import pytest

from gankit.data.synthetic import write_folder

TINY = ["data.resolution=32", "data.channels=3", "data.num_workers=0", "train.batch_size=4", "train.steps=1",
        "train.log_every=1", "train.sample_every=0", "train.ckpt_every=1", "train.n_samples=4",
        "train.progress=false", "train.device=cpu", "model.z_dim=8", "model.generator.width=8",
        "model.discriminator.width=8"]


def error_line(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A labelled (conditional) and an unlabelled run trained for one step on a class folder."""
    from gankit.cli.main import main

    root = tmp_path_factory.mktemp("runs")
    folder = write_folder(root / "imgs", n=16, resolution=32, n_classes=3)  # class0, class1, class2
    for name, extra in (("cond", ["data.labels=true"]), ("plain", [])):
        code = main(["train", "dcgan_fashion", f"data.path={folder}", *TINY, *extra, "--out", str(root / name)])
        assert code == 0
    return root


# ------------------------------------------------------------------------------ --out paths
def test_train_out_whose_parent_is_a_file(tmp_path, cli):
    (tmp_path / "notes.txt").write_text("x")
    for out in (tmp_path / "notes.txt" / "run", tmp_path / "notes.txt" / "a" / "b"):
        line = error_line(*cli("train", "dcgan_fashion", "data.name=synthetic", *TINY, "--out", out)[::2])
        assert f"--out {out}" in line and "notes.txt' is a file" in line
    assert not (tmp_path / "notes.txt").is_dir()


def test_train_out_that_is_an_existing_file_or_broken_link(tmp_path, cli):
    f = tmp_path / "run"
    f.write_text("x")
    line = error_line(*cli("train", "dcgan_fashion", "data.name=synthetic", *TINY, "--out", f)[::2])
    assert f"--out {f}: is an existing file" in line
    line = error_line(*cli("train", "dcgan_fashion", "data.name=synthetic", *TINY, "--out", f, "--resume")[::2])
    assert "is an existing file" in line
    os.symlink(tmp_path / "nowhere", tmp_path / "link")
    line = error_line(*cli("train", "dcgan_fashion", "data.name=synthetic", *TINY, "--out", tmp_path / "link")[::2])
    assert "broken symbolic link" in line


def test_sample_out_paths(runs, tmp_path, cli):
    (tmp_path / "notes.txt").write_text("x")
    run = runs / "plain"
    for out, needle in ((tmp_path / "notes.txt" / "grid.png", "notes.txt' is a file"),
                        (tmp_path / "notes.txt" / "many", "notes.txt' is a file"),
                        (tmp_path / "notes.txt", "is an existing file, not a folder")):
        line = error_line(*cli("sample", run, "--n", 2, "--out", out)[::2])
        assert f"--out {out}" in line and needle in line
    (tmp_path / "grid.png").mkdir()
    line = error_line(*cli("sample", run, "--n", 2, "--out", tmp_path / "grid.png")[::2])
    assert "is an existing folder" in line
    # and the good cases still work
    code, out, err = cli("sample", run, "--n", 2, "--out", tmp_path / "new" / "g.png")
    assert code == 0 and (tmp_path / "new" / "g.png").is_file(), err
    code, out, err = cli("sample", run, "--n", 2, "--out", tmp_path / "dir")
    assert code == 0 and len(list((tmp_path / "dir").glob("*.png"))) == 2, err


def test_sample_from_a_run_path_that_is_a_file(tmp_path, cli):
    f = tmp_path / "run.txt"
    f.write_text("x")
    line = error_line(*cli("sample", f, "--out", tmp_path / "g.png")[::2])
    assert str(f) in line and "is a file, not a run directory" in line


# ----------------------------------------------------------------------------- --class NAME
def test_sample_class_by_name_and_index(runs, tmp_path, cli):
    run = runs / "cond"
    code, out, err = cli("sample", run, "--n", 4, "--class", "class2", "--out", tmp_path / "a.png", "--seed", 3)
    assert code == 0, err
    code, out, err = cli("sample", run, "--n", 4, "--class", "2", "--out", tmp_path / "b.png", "--seed", 3)
    assert code == 0, err
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


@pytest.mark.parametrize("cls,needles", [
    ("Class2", ["did you mean 'class2'", "0=class0, 1=class1, 2=class2"]),  # case-sensitive
    ("dog", ["not a class of this run", "classes: 0=class0"]),
    ("3", ["expected a class index 0..2 or a class name"]),
    ("-1", ["expected a class index 0..2"]),
])
def test_sample_bad_class(runs, tmp_path, cli, cls, needles):
    line = error_line(*cli("sample", runs / "cond", "--n", 2, "--class", cls, "--out", tmp_path / "g.png")[::2])
    assert f"--class {cls}" in line
    for n in needles:
        assert n in line, line


def test_sample_class_on_an_unconditional_run(runs, tmp_path, cli):
    for cls in ("class1", "1"):
        line = error_line(*cli("sample", runs / "plain", "--class", cls, "--out", tmp_path / "g.png")[::2])
        assert "unconditional" in line


def test_sample_class_name_when_the_data_is_gone(runs, tmp_path, cli):
    import shutil

    shutil.copytree(runs / "cond", tmp_path / "cond")  # its config points at runs/imgs, moved away below
    shutil.move(str(runs / "imgs"), str(runs / "imgs_away"))
    try:
        line = error_line(*cli("sample", tmp_path / "cond", "--class", "class1", "--out", tmp_path / "g.png")[::2])
        assert "cannot be loaded" in line and "pass the class index 0..2" in line
        code, _, err = cli("sample", tmp_path / "cond", "--class", "1", "--out", tmp_path / "g.png")
        assert code == 0, err
    finally:
        shutil.move(str(runs / "imgs_away"), str(runs / "imgs"))
