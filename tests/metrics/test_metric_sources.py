"""Sources yield uint8 batches; features are cached by content; generators are sampled lazily."""

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.errors import DataError, GankitError
from gankit.metrics.features import extract_features, source_features
from gankit.metrics.sources import (ArraySource, DatasetSource, FolderSource, GeneratorSource, noise_sampler,
                                    dataset_preset_source, generator_to_uint8)


def test_generator_to_uint8_stylegan_convention():
    x = torch.tensor([-1.0, -0.999, 0.0, 0.5, 1.0, 1.5, -3.0])
    assert generator_to_uint8(x).tolist() == [0, 0, 128, 191, 255, 255, 0]


def test_generator_source_batches_seeded_eval_mode(tiny_g):
    tiny_g.train()
    src = GeneratorSource(noise_sampler(tiny_g), n=10, batch=4, seed=3)
    batches = list(src)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert all(b.dtype == torch.uint8 and b.shape[1:] == (1, 8, 8) for b in batches)
    assert tiny_g.seen_training and not any(tiny_g.seen_training)  # sampled in eval mode
    assert tiny_g.training  # mode restored
    again = torch.cat(list(GeneratorSource(noise_sampler(tiny_g), n=10, batch=4, seed=3)))
    assert torch.equal(torch.cat(batches), again)
    other = torch.cat(list(GeneratorSource(noise_sampler(tiny_g), n=10, batch=4, seed=4)))
    assert not torch.equal(again, other)
    assert src.fingerprint() is None


def test_generator_source_passes_labels(make_g):
    g = make_g(z_dim=3, n_classes=5)
    imgs = torch.cat(list(GeneratorSource(noise_sampler(g), n=6, batch=6)))
    assert imgs.shape == (6, 1, 8, 8)
    with pytest.raises(GankitError):
        GeneratorSource(noise_sampler(g), n=0)


def test_array_source_shapes_and_errors():
    src = ArraySource(np.zeros((5, 7, 7), np.uint8), batch=2)
    assert [tuple(b.shape) for b in src] == [(2, 1, 7, 7), (2, 1, 7, 7), (1, 1, 7, 7)]
    with pytest.raises(DataError):
        ArraySource(np.zeros((5, 7, 7), np.float32))
    with pytest.raises(DataError):
        ArraySource(np.zeros((5, 2, 7, 7), np.uint8))


def _write_images(folder, sizes, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (h, w) in enumerate(sizes):
        mode_gray = i % 2 == 1
        arr = rng.integers(0, 256, size=(h, w) if mode_gray else (h, w, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"img{i:02d}.png")


def test_folder_source_native_size_rgb_groups(tmp_path):
    _write_images(tmp_path / "f", [(8, 8), (8, 8), (6, 9), (8, 8)])
    src = FolderSource(tmp_path / "f", batch=8)
    batches = list(src)
    assert [tuple(b.shape) for b in batches] == [(2, 3, 8, 8), (1, 3, 6, 9), (1, 3, 8, 8)]
    gray = batches[0][1]
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[0], gray[2])  # gray -> 3 equal channels
    assert src.n == 4


def test_dataset_source_and_preset():
    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return torch.full((1, 4, 4), i, dtype=torch.uint8), 0

    src = DatasetSource(DS(), "toy", fingerprint="abc", batch=2, n=3)
    assert torch.cat(list(src))[:, 0, 0, 0].tolist() == [0, 1, 2]
    assert src.fingerprint() == "abc"
    assert dataset_preset_source("not-a-preset") is None


def test_features_batch_size_invariant_and_n_cap(fake_extractor):
    imgs = torch.randint(0, 256, (7, 3, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    f7 = extract_features(ArraySource(imgs, batch=7), fake_extractor)
    f2 = extract_features(ArraySource(imgs, batch=2), fake_extractor)
    np.testing.assert_array_equal(f7, f2)
    assert extract_features(ArraySource(imgs, batch=3), fake_extractor, n=5).shape == (5, 48)
    assert extract_features(ArraySource(imgs, batch=7), fake_extractor, chunk=3).shape == (7, 48)


def test_feature_cache_hits_and_invalidates_on_changed_file(tmp_path, fake_extractor):
    _write_images(tmp_path / "data", [(8, 8)] * 3)
    cache = tmp_path / "cache"
    f1, hit1 = source_features(FolderSource(tmp_path / "data"), fake_extractor, cache_dir=cache)
    calls = fake_extractor.calls
    f2, hit2 = source_features(FolderSource(tmp_path / "data"), fake_extractor, cache_dir=cache)
    assert (hit1, hit2) == (False, True) and fake_extractor.calls == calls
    np.testing.assert_array_equal(f1, f2)
    # moved folder, same content: still a hit (key is content, not path)
    (tmp_path / "data").rename(tmp_path / "moved")
    assert source_features(FolderSource(tmp_path / "moved"), fake_extractor, cache_dir=cache)[1]
    _write_images(tmp_path / "moved", [(8, 8)], seed=9)  # overwrite img00.png with other pixels
    f3, hit3 = source_features(FolderSource(tmp_path / "moved"), fake_extractor, cache_dir=cache)
    assert not hit3 and not np.array_equal(f1, f3)
    # a different n is a different entry
    assert not source_features(FolderSource(tmp_path / "moved"), fake_extractor, n=2, cache_dir=cache)[1]
    assert not list((cache / "features").glob(".*"))  # no temp files left behind


def test_generator_features_never_cached(tmp_path, tiny_g, fake_extractor):
    src = GeneratorSource(noise_sampler(tiny_g), n=5, batch=2)
    _, hit = source_features(src, fake_extractor, cache_dir=tmp_path)
    assert not hit and not (tmp_path / "features").exists()


def test_empty_source_is_user_error(fake_extractor):
    with pytest.raises(GankitError):
        extract_features([], fake_extractor)


def _write_idx(path, arr):
    import gzip

    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_fashion_mnist_preset_reads_idx_files(tmp_path, monkeypatch):
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28) % 251
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([1, 2, 3]))
    monkeypatch.setenv("GANKIT_FASHION_MNIST", str(tmp_path))
    src = dataset_preset_source("fashion-mnist:test", batch=2)
    assert src.name == "fashion-mnist:test" and src.n == 3
    got = torch.cat(list(src))
    assert got.shape == (3, 1, 28, 28) and torch.equal(got[:, 0], torch.from_numpy(images.astype(np.uint8)))
    assert len(src.fingerprint()) == 40
    with pytest.raises(GankitError):
        dataset_preset_source("fashion-mnist:valid")
