"""Speed and agreement benchmark of gankit's metrics (run by hand on a GPU; not a test).

Measures, for ``--n`` generated ``--res``² RGB images:
  1. feature-extraction throughput (images/s) sampling a generator on the device;
  2. wall time of FID+KID+PR on two folders of ``--n`` PNGs each (decode -> features -> scores);
  3. side by side with clean-fid when ``import cleanfid`` works: its FID for the same two
     folders in mode ``clean`` (vs gankit ``--resize clean``) and ``legacy_tensorflow`` (vs
     gankit ``--resize nv``), with its wall time.

clean-fid offline: it loads ``/tmp/inception-2015-12-05.pt`` (NVIDIA's TorchScript). When that
file is absent, this script writes a TorchScript stand-in there built from the same network
file gankit uses (default_1.pt): its ``layers`` are the same weights; its forward reproduces
NVIDIA's internal resize (affine_grid + grid_sample, TF1-legacy alignment, border padding)
and (x - 128) / 128. clean-fid's ``clean`` mode calls only ``layers`` (its own PIL resize),
so that comparison is independent of gankit's code; ``legacy_tensorflow`` uses the stand-in's
grid_sample resize, independent of gankit's matrix resize.

  python benchmarks/metrics_speed.py --n 50000 --device cuda --out bench.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.metrics.api import evaluate  # noqa: E402
from gankit.metrics.features import extract_features  # noqa: E402
from gankit.metrics.inception import find_weights, load_inception  # noqa: E402
from gankit.metrics.sources import FolderSource, GeneratorSource, noise_sampler  # noqa: E402


class BenchG(torch.nn.Module):
    """A fixed random conv generator: z [N, 64] -> [N, 3, res, res] in [-1, 1] (textured blobs)."""

    def __init__(self, res: int, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.z_dim, self.n_classes, self.res = 64, 0, res
        self.fc = torch.nn.Linear(64, 64 * 4 * 4)
        layers, ch, size = [], 64, 4
        while size < res:
            layers += [torch.nn.Upsample(scale_factor=2), torch.nn.Conv2d(ch, 32, 3, padding=1), torch.nn.LeakyReLU(0.2)]
            ch, size = 32, size * 2
        layers += [torch.nn.Conv2d(ch, 3, 3, padding=1)]
        self.net = torch.nn.Sequential(*layers)

    def forward(self, z, c=None):
        x = self.net(self.fc(z).view(-1, 64, 4, 4))
        return torch.tanh(x / x.std().clamp_min(1e-6) * 0.8)


class NvInceptionStandIn(torch.nn.Module):
    """NVIDIA inception-2015-12-05.pt interface over default_1.pt's layers (for clean-fid)."""

    def __init__(self, layers):
        super().__init__()
        self.layers = layers

    def forward(self, img: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        x = img.to(torch.float32)
        n, c, h, w = x.shape
        theta = torch.eye(2, 3, device=x.device)
        theta[0, 2] += theta[0, 0] / w - theta[0, 0] / 299
        theta[1, 2] += theta[1, 1] / h - theta[1, 1] / 299
        theta = theta.unsqueeze(0).repeat([n, 1, 1])
        grid = F.affine_grid(theta, [n, c, 299, 299], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return self.layers((x - 128) / 128).reshape(-1, 2048)


def ensure_cleanfid_weights(weights: Path, target: Path = Path("/tmp/inception-2015-12-05.pt")) -> str:
    if target.exists():
        return f"{target} already present (used as is)"
    base = torch.jit.load(str(weights), map_location="cpu")
    torch.jit.save(torch.jit.script(NvInceptionStandIn(base.net.layers)), str(target))
    return f"{target} written: stand-in over default_1.pt layers"


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def write_folder(G, n, folder: Path, device, seed, batch=500) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.png"))) == n:
        return
    src = GeneratorSource(noise_sampler(G, device), n, batch, seed)
    with ThreadPoolExecutor(16) as pool:
        i = 0
        for b in src:
            arr = b.permute(0, 2, 3, 1).cpu().numpy()
            list(pool.map(lambda k: Image.fromarray(arr[k]).save(folder / f"{i + k:06d}.png", compress_level=1),
                          range(len(arr))))
            i += len(arr)


def run_ours(a: Path, b: Path, resampler: str, args) -> dict:
    ex = load_inception(args.inception, device=args.device, resampler=resampler)
    sync(args.device)
    t0 = time.perf_counter()
    res = evaluate(FolderSource(a, batch=args.batch, num_workers=args.workers),
                   FolderSource(b, batch=args.batch, num_workers=args.workers),
                   ("fid", "kid", "pr"), ex, device=args.device, use_cache=False, seed=0)
    sync(args.device)
    res["wall_s"] = time.perf_counter() - t0
    return res


def run_cleanfid(a: Path, b: Path, mode: str, args) -> dict:
    from cleanfid import fid as cfid

    t0 = time.perf_counter()
    value = cfid.compute_fid(str(a), str(b), mode=mode, num_workers=args.workers, batch_size=args.batch,
                             device=torch.device(args.device), verbose=False)
    return {"fid": float(value), "wall_s": time.perf_counter() - t0}


def measure_throughput(G, args) -> dict:
    """images/s of uint8 conversion + resize + Inception on generator samples (after a warm-up)."""
    ex = load_inception(args.inception, device=args.device)
    extract_features(GeneratorSource(noise_sampler(G, args.device), 2 * args.batch, args.batch), ex)  # warm-up
    sync(args.device)
    t0 = time.perf_counter()
    feats = extract_features(GeneratorSource(noise_sampler(G, args.device), args.n, args.batch, seed=7), ex)
    sync(args.device)
    dt = time.perf_counter() - t0
    print(f"feature extraction from a generator: {len(feats)} imgs in {dt:.1f}s = {len(feats) / dt:.0f} img/s")
    return {"images": len(feats), "seconds": dt, "images_per_s": len(feats) / dt}


def compare_folders(Ga, Gb, args, out: dict) -> None:
    """Write two PNG folders, time gankit FID+KID+PR on them, then clean-fid's FID if importable."""
    wd = Path(args.workdir)
    t0 = time.perf_counter()
    write_folder(Ga, args.n, wd / "a", args.device, seed=1)
    write_folder(Gb, args.n, wd / "b", args.device, seed=2)
    print(f"wrote folders in {time.perf_counter() - t0:.0f}s")
    for rs in ("nv", "clean"):
        r = run_ours(wd / "a", wd / "b", rs, args)
        out[f"gankit_{rs}"] = r
        print(f"gankit resize={rs}: fid {r['fid']['value']:.4f} kid {r['kid']['value']:.5f} "
              f"P {r['precision']['value']:.4f} R {r['recall']['value']:.4f}  wall {r['wall_s']:.1f}s (FID+KID+PR)")
    try:
        import cleanfid  # noqa: F401
    except ImportError as e:
        out["cleanfid"] = f"not run: clean-fid is not importable ({e}); pip install clean-fid to compare"
        print(out["cleanfid"])
        return
    out["cleanfid_weights"] = ensure_cleanfid_weights(find_weights(args.inception))
    for mode, rs in (("clean", "clean"), ("legacy_tensorflow", "nv")):
        r = run_cleanfid(wd / "a", wd / "b", mode, args)
        ours = out[f"gankit_{rs}"]["fid"]["value"]
        r["abs_diff_vs_gankit"] = abs(r["fid"] - ours)
        out[f"cleanfid_{mode}"] = r
        print(f"clean-fid mode={mode}: fid {r['fid']:.4f} (gankit {ours:.4f}, |diff| {r['abs_diff_vs_gankit']:.2e})"
              f"  wall {r['wall_s']:.1f}s (FID only)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=50000)
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--device", default="cuda")
    p.add_argument("--inception", default=None)
    p.add_argument("--workdir", default="/tmp/gankit-bench")
    p.add_argument("--out", default=None, help="write results JSON here")
    p.add_argument("--skip-folders", action="store_true", help="only the throughput measurement")
    args = p.parse_args(argv)
    torch.backends.cudnn.benchmark = True
    out: dict = {"n": args.n, "res": args.res, "batch": args.batch, "device": str(args.device),
                 "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None, "torch": torch.__version__}
    Ga, Gb = BenchG(args.res, 0).to(args.device), BenchG(args.res, 1).to(args.device)
    out["throughput"] = measure_throughput(Ga, args)
    if not args.skip_folders:
        compare_folders(Ga, Gb, args, out)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
