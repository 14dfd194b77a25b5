"""The CLI end to end in subprocesses: train, sample, resume, presets, and bad input."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from gankit.data.synthetic import write_folder

TINY = ["data.resolution=32", "data.channels=3", "data.num_workers=0", "train.batch_size=4",
        "train.log_every=1", "train.sample_every=2", "train.ckpt_every=2", "train.n_samples=4", "train.progress=false",
        "train.device=cpu", "model.z_dim=8", "model.generator.width=8", "model.discriminator.width=8"]


def gankit(*args, cwd=None):
    """The real CLI in a subprocess (entry point, exit code, stderr), as a user runs it."""
    return subprocess.run([sys.executable, "-m", "gankit.cli.main", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


class _Result:
    def __init__(self, code, out, err):
        self.returncode, self.stdout, self.stderr = code, out, err


@pytest.fixture
def cli(capsys):
    """The same CLI code path in-process (no interpreter start-up): for the many error cases."""
    from gankit.cli.main import main

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return _Result(code, out, err)

    return run


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("imgs"), n=16, resolution=32, n_classes=2)


def test_train_sample_resume(folder, tmp_path, cli):
    # in-process (the `cli` fixture): a real subprocess is covered by test_one_line_error_in_a_real_subprocess
    run = tmp_path / "run"
    r = cli("train", "dcgan_fashion", f"data.path={folder}", *TINY, "--out", run, "--steps", 2)
    assert r.returncode == 0, r.stderr
    assert (run / "checkpoints" / "step_000000002").is_dir() and (run / "samples" / "latest.png").is_file()
    r = cli("sample", run, "--n", 6, "--out", tmp_path / "grid.png", "--seed", 1)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "grid.png").size[0] > 32
    r = cli("sample", run / "checkpoints" / "step_000000002", "--n", 3, "--out", tmp_path / "many")
    assert r.returncode == 0 and len(list((tmp_path / "many").glob("*.png"))) == 3
    # --steps is the run's total: resuming with a larger value continues to it
    r = cli("train", "dcgan_fashion", f"data.path={folder}", *TINY, "--out", run, "--steps", 4, "--resume")
    assert r.returncode == 0, r.stderr
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines() if '"d_total"' in line]
    assert steps == [1, 2, 3, 4]


def test_presets_lists_each_with_a_line(cli):
    r = cli("presets")
    assert r.returncode == 0
    for name in ["mlp_gan_fashion", "dcgan_fashion", "wgan_gp_fashion", "lsgan_fashion", "cgan_fashion", "sngan_fashion"]:
        line = next(ln for ln in r.stdout.splitlines() if ln.startswith(name))
        assert len(line.split()) > 2


@pytest.mark.parametrize("args,message", [
    (["train", "dcgan_fashon"], "unknown preset 'dcgan_fashon' (did you mean 'dcgan_fashion'?)"),
    (["train", "dcgan_fashion", "train.batch_sise=2"], "unknown config key 'train.batch_sise' (did you mean 'batch_size'?)"),
    (["train", "dcgan_fashion", "train.batch_size=two"], "train.batch_size: expected an integer, got 'two'"),
    (["train", "dcgan_fashion", "data.path=/no/such/dir"], "data folder '/no/such/dir' does not exist"),
    (["sample", "/no/run", "--out", "x.png"], "'/no/run' does not exist"),
])
def test_bad_input_is_one_line(args, message, tmp_path, cli):
    r = cli(*args, "--out", tmp_path / "o") if args[0] == "train" else cli(*args)
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in r.stderr, r.stderr


def test_bad_image_in_folder_is_named_or_skipped(folder, tmp_path, cli, caplog):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(folder, data)
    (data / "class0" / "broken.jpg").write_bytes(b"not a jpeg at all")
    r = cli("train", "dcgan_fashion", f"data.path={data}", *TINY, "--out", tmp_path / "a", "--steps", 1)
    assert r.returncode == 2 and "broken.jpg: not a readable image" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("train", "dcgan_fashion", f"data.path={data}", *TINY, "data.skip_bad=true", "--out", tmp_path / "b", "--steps", 1)
    assert r.returncode == 0, r.stderr
    assert "skipped 1 unreadable image" in caplog.text


def test_empty_folder(tmp_path, cli):
    (tmp_path / "empty").mkdir()
    r = cli("train", "dcgan_fashion", f"data.path={tmp_path / 'empty'}", "--out", tmp_path / "o")
    assert r.returncode == 2 and "holds no images" in r.stderr


def test_incompatible_resume_names_keys(folder, tmp_path, cli):
    run = tmp_path / "run"
    assert cli("train", "dcgan_fashion", f"data.path={folder}", *TINY, "--out", run, "--steps", 1).returncode == 0
    r = cli("train", "dcgan_fashion", f"data.path={folder}", *TINY, "optim.g_lr=0.5", "--out", run, "--steps", 2, "--resume")
    assert r.returncode == 2 and "config differs from the checkpoint in optim.g_lr" in r.stderr


def test_one_line_error_in_a_real_subprocess(tmp_path):
    r = gankit("train", "dcgan_fashon", "--out", tmp_path / "o")
    assert r.returncode == 2 and r.stderr.strip() == "gankit: error: unknown preset 'dcgan_fashon' (did you mean 'dcgan_fashion'?); run 'gankit presets' to list them"
