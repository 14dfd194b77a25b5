"""Resumable, cached feature extraction and the eval command's input checks (issues 11 and 21).

Stand-in extractor and a tiny generator only (never the real Inception network): seconds on a CPU.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gankit.cli.eval as cli_eval
from gankit.cli.main import main
from gankit.metrics.features import load_partial, source_features
from gankit.metrics.sources import ArraySource, FolderSource, GeneratorSource, noise_sampler

REPO = Path(__file__).resolve().parents[2]


def _folder(path, n, seed, size=8):
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, size=(size, size, 3)).astype(np.uint8)).save(path / f"{i:03d}.png")
    return path


class Interrupt(Exception):
    pass


class StopAfter:
    """Wraps an extractor; raises after ``calls`` batches (a kill in the middle of a run)."""

    def __init__(self, inner, calls):
        self.inner, self.left = inner, calls
        self.sha1, self.resampler = inner.sha1, inner.resampler

    def __call__(self, x):
        if self.left == 0:
            raise Interrupt
        self.left -= 1
        return self.inner(x)


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name.endswith(".tmp") or p.name.endswith(".partial"))


# ----------------------------------------------------------------------------- library level
def test_generator_iter_from_continues_the_same_samples(tiny_g):
    src = GeneratorSource(noise_sampler(tiny_g), n=50, batch=8, seed=3, identity="x")
    full = list(src)
    it = iter(src)
    head = [next(it) for _ in range(3)]
    state = src.resume_state()
    tail = list(src.iter_from(24, state))
    assert all(torch.equal(a, b) for a, b in zip(head + tail, full)) and len(head + tail) == len(full)
    assert src.fingerprint() != GeneratorSource(noise_sampler(tiny_g), 50, 8, seed=4, identity="x").fingerprint()
    assert GeneratorSource(noise_sampler(tiny_g), 50, 8).fingerprint() is None  # no identity: never cached


@pytest.mark.parametrize("kind", ["generator", "array", "folder"])
def test_interrupted_extraction_resumes_to_identical_features(tmp_path, fake_extractor, tiny_g, kind):
    def source():
        if kind == "generator":
            return GeneratorSource(noise_sampler(tiny_g), n=130, batch=10, seed=1, identity="ck")
        if kind == "array":
            imgs = np.random.default_rng(0).integers(0, 256, size=(130, 3, 8, 8), dtype=np.uint8)
            return ArraySource(imgs, name="arr", batch=10)
        return FolderSource(folder, batch=10)

    folder = _folder(tmp_path / "imgs", 130, 0) if kind == "folder" else None
    want, _ = source_features(source(), fake_extractor, use_cache=False)
    cache = tmp_path / "cache"
    with pytest.raises(Interrupt):  # killed during batch 8 (images 70..79): chunks up to 60 are saved
        source_features(source(), StopAfter(fake_extractor, 7), cache_dir=cache, save_every=20)
    (pdir,) = (cache / "features").glob("*.partial")
    key = pdir.name[: -len(".partial")]
    parts, nxt, state = load_partial(pdir, key, 130)
    assert nxt == 60 and sum(map(len, parts)) == 60 and (state is not None) == (kind == "generator")
    counting = StopAfter(fake_extractor, -1)  # never stops
    calls = fake_extractor.calls
    got, hit = source_features(source(), counting, cache_dir=cache, save_every=20)
    assert not hit and fake_extractor.calls - calls == 7  # only images 60..129 extracted again
    np.testing.assert_array_equal(got, want)
    assert _leftovers(cache) == [] and (cache / "features" / f"{key}.npz").is_file()
    again, hit = source_features(source(), fake_extractor, cache_dir=cache)
    assert hit and np.array_equal(again, want)


def test_foreign_or_broken_chunks_are_ignored(tmp_path, fake_extractor):
    imgs = np.random.default_rng(1).integers(0, 256, size=(40, 1, 8, 8), dtype=np.uint8)
    cache = tmp_path / "c"
    with pytest.raises(Interrupt):
        source_features(ArraySource(imgs, batch=10), StopAfter(fake_extractor, 3), cache_dir=cache, save_every=10)
    (pdir,) = (cache / "features").glob("*.partial")
    (pdir / "chunk_000000010_000000020.npz").write_bytes(b"not a zip")  # a damaged second chunk
    parts, nxt, _ = load_partial(pdir, pdir.name[:-8], 40)
    assert nxt == 10 and len(parts) == 1
    assert load_partial(pdir, "another-key", 40)[1] == 0
    got, _ = source_features(ArraySource(imgs, batch=10), fake_extractor, cache_dir=cache, save_every=10)
    np.testing.assert_array_equal(got, source_features(ArraySource(imgs, batch=10), fake_extractor, use_cache=False)[0])


# ----------------------------------------------------------------------------- a real kill
_SCRIPT = textwrap.dedent('''
    """gankit's CLI with a slow stand-in feature extractor and a tiny generator run."""
    import os, sys, time
    from pathlib import Path
    import torch
    import gankit.cli.eval as ce
    import gankit.pipelines as pl
    from gankit.cli.main import main
    from gankit.metrics.sources import noise_sampler

    class SlowFake:
        sha1, resampler = "fake-extractor", "nv"
        def __call__(self, images):
            time.sleep(float(os.environ.get("FAKE_DELAY", "0")))
            x = images.float() / 255.0
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
            return torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)

    class TinyG(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.z_dim, self.n_classes = 4, 0
            self.fc = torch.nn.Linear(4, 64)
        def forward(self, z, c=None):
            return torch.tanh(self.fc(z)).view(-1, 1, 8, 8)

    class FakeRun:
        def __init__(self, path):
            torch.manual_seed(0)
            self.g, self.weights = TinyG(), "G_ema"
            self.checkpoint = Path(path) / "checkpoints" / "step_000000001"
        def sampler(self):
            return noise_sampler(self.g)

    ce.load_inception = lambda *a, **k: SlowFake()
    pl.load_run = lambda path, device="cpu", ema=True: FakeRun(path)
    sys.exit(main(sys.argv[1:]))
''')


def _fake_run(tmp_path):
    ck = tmp_path / "run" / "checkpoints" / "step_000000001"
    ck.mkdir(parents=True)
    (ck / "weights.safetensors").write_bytes(b"weights of the tiny generator")
    (ck / "state.pt").write_bytes(b"state")
    return tmp_path / "run"


def _eval_cmd(script, run, ref, cache, out):
    return [sys.executable, str(script), "eval", str(run), "--ref", str(ref), "--metrics", "fid,kid,pr",
            "--n", "400", "--batch", "20", "--save-every", "40", "--cache-dir", str(cache), "--json", str(out),
            "--device", "cpu", "--kid-subsets", "10", "--kid-subset-size", "32"]


def test_killed_eval_resumes_to_the_same_numbers(tmp_path):
    script = tmp_path / "fake_gankit.py"
    script.write_text(_SCRIPT)
    run, ref = _fake_run(tmp_path), _folder(tmp_path / "ref", 64, 5)
    env = {**os.environ, "PYTHONPATH": str(REPO), "FAKE_DELAY": "0.1"}
    # uninterrupted
    base = subprocess.run(_eval_cmd(script, run, ref, tmp_path / "c0", tmp_path / "base.json"), env=env,
                          capture_output=True, text=True, timeout=180)
    assert base.returncode == 0, base.stderr
    # killed (SIGKILL: no cleanup of any kind) once the first chunk is on disk
    cache, out = tmp_path / "c1", tmp_path / "resumed.json"
    proc = subprocess.Popen(_eval_cmd(script, run, ref, cache, out), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(cache.glob("features/*.partial/chunk_*.npz")) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    (pdir,) = cache.glob("features/*.partial")
    parts, done, _ = load_partial(pdir, pdir.name[:-8], 400)
    assert 40 <= done < 400 and not out.exists()
    # restarted: continues from the saved chunks
    again = subprocess.run(_eval_cmd(script, run, ref, cache, out), env=env, capture_output=True, text=True,
                           timeout=180)
    assert again.returncode == 0, again.stderr
    assert "resuming at image" in again.stderr
    a, b = json.loads((tmp_path / "base.json").read_text()), json.loads(out.read_text())
    for key in ("fid", "kid", "precision", "recall"):
        assert b[key]["value"] == pytest.approx(a[key]["value"], abs=1e-6), key
    assert b["kid"]["std"] == pytest.approx(a["kid"]["std"], abs=1e-6) and b["n_gen"] == a["n_gen"] == 400
    assert _leftovers(cache) == []
    # the count up front and a progress bar with a total and an ETA
    assert f"run:{run}: 400 images (generated); folder:{ref}: 64 images (all)" in base.stderr
    assert "400/400 [" in base.stderr and "<" in base.stderr.split("400/400 [", 1)[1].split("]")[0]
    # a third run reuses both feature sets
    third = subprocess.run(_eval_cmd(script, run, ref, cache, out), env={**env, "FAKE_DELAY": "0"},
                           capture_output=True, text=True, timeout=180)
    assert third.returncode == 0 and third.stderr.count("features from cache") == 2, third.stderr
    assert "features from cache: 400 images" in third.stderr


# ----------------------------------------------------------------------------- CLI input checks
@pytest.fixture
def patched(monkeypatch, fake_extractor):
    monkeypatch.setattr(cli_eval, "load_inception", lambda *a, **k: fake_extractor)
    return fake_extractor


@pytest.mark.parametrize("opts, needle", [
    (["--n", "0"], "--n 0: must be at least 1"),
    (["--n", "-5"], "--n -5: must be at least 1"),
    (["--batch", "0"], "--batch 0: must be at least 1"),
    (["--n-ref", "0"], "--n-ref 0"),
    (["--kid-subsets", "0"], "--kid-subsets 0"),
    (["--kid-subset-size", "1"], "--kid-subset-size 1: must be at least 2"),
    (["--k", "0"], "--k 0"),
    (["--workers", "-1"], "--workers -1: must be at least 0"),
    (["--save-every", "0"], "--save-every 0"),
    (["--seed", "-1"], "--seed -1"),
    (["--metrics", ","], "--metrics ,"),
])
def test_bad_option_values_are_one_line_errors(tmp_path, patched, capsys, opts, needle):
    a = _folder(tmp_path / "a", 4, 0)
    rc = main(["eval", str(a), "--ref", str(a), "--device", "cpu", "--no-cache", "--json", str(tmp_path / "r.json")]
              + opts)
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("gankit: error: ") and needle in err and err.count("\n") == 1, err
    assert patched.calls == 0  # refused before any work


def test_stats_bad_values_and_out_paths(tmp_path, patched, capsys):
    a = _folder(tmp_path / "a", 4, 0)
    (tmp_path / "file").write_text("x")
    for argv, needle in [(["--n", "0"], "--n 0"), (["--batch", "-2"], "--batch -2"),
                         (["--out", str(tmp_path / "file" / "s.npz")], f"{tmp_path / 'file'} is a file"),
                         (["--out", str(tmp_path / "d.npz")], "is a folder")]:
        (tmp_path / "d.npz").mkdir(exist_ok=True)
        rc = main(["stats", str(a), "--device", "cpu", "--no-cache"] + argv
                  + ([] if "--out" in argv else ["--out", str(tmp_path / "s.npz")]))
        err = capsys.readouterr().err
        assert rc == 2 and needle in err and err.count("\n") == 1, err


def test_json_path_under_a_file_is_refused_before_work(tmp_path, patched, capsys):
    a = _folder(tmp_path / "a", 4, 0)
    (tmp_path / "f").write_text("x")
    bad = tmp_path / "f" / "sub" / "r.json"
    rc = main(["eval", str(a), "--ref", str(a), "--device", "cpu", "--no-cache", "--json", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and f"--json {bad}: {tmp_path / 'f'} is a file, not a folder" in err and err.count("\n") == 1
    assert patched.calls == 0


def test_n_larger_than_the_folder_says_how_many_were_used(tmp_path, patched, capsys, monkeypatch):
    monkeypatch.setattr(cli_eval, "CPU_HINT_IMAGES", 5)  # as if the folders were large
    a, b = _folder(tmp_path / "a", 6, 0), _folder(tmp_path / "b", 7, 1)
    out = tmp_path / "r.json"
    rc = main(["eval", str(a), "--ref", str(b), "--n", "5000", "--n-ref", "3", "--device", "cpu", "--no-cache",
               "--json", str(out), "--metrics", "fid,kid"])
    cap = capsys.readouterr()
    assert rc == 0
    assert f"--n 5000 but folder:{a} has only 6 images: using 6" in cap.err
    assert f"folder:{a}: 6 images (all); folder:{b}: 3 of 7 images" in cap.err  # the count up front
    assert "up to 9 images through the Inception network on a CPU" in cap.err
    res = json.loads(out.read_text())
    assert res["n_gen"] == 6 and res["n_ref"] == 3 and res["fid"]["protocol"].startswith("fid6,")
    # KID: subset size 1000 clamped to 3 (the smaller side), said on stderr and in the JSON
    assert "KID subset size 1000 clamped to 3" in cap.err and "clamped to 3" in res["kid"]["note"]


def test_kid_whole_set_shows_no_zero_spread(tmp_path, patched, capsys):
    a, b = _folder(tmp_path / "a", 6, 0), _folder(tmp_path / "b", 6, 1)
    rc = main(["eval", str(a), "--ref", str(b), "--device", "cpu", "--no-cache", "--metrics", "kid",
               "--json", str(tmp_path / "r.json")])
    cap = capsys.readouterr()
    assert rc == 0 and "± 0" not in cap.out and "whole set" in cap.err
    assert json.loads((tmp_path / "r.json").read_text())["kid"]["std"] is None


def test_channels_last_on_cpu_gives_the_same_features():
    from gankit.metrics.inception import InceptionFeatures

    class Net(torch.nn.Module):
        """A stand-in network that records the memory format it is given."""

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.conv, self.seen = torch.nn.Conv2d(3, 8, 3, stride=2), []

        def forward(self, x):
            self.seen.append(x.is_contiguous(memory_format=torch.channels_last))
            return torch.relu(self.conv(x)).mean((2, 3))

    imgs = torch.from_numpy(np.random.default_rng(0).integers(0, 256, size=(3, 1, 20, 20), dtype=np.uint8))
    default, plain = InceptionFeatures(Net(), "x"), InceptionFeatures(Net(), "x", channels_last=False)
    a, b = default(imgs), plain(imgs)
    assert default.net.seen == [True] and plain.net.seen == [False]  # channels_last by default on the CPU
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
