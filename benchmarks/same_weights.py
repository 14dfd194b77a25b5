"""Do two checkouts of gankit train to the same weights? (a refactor must not change the maths)

    cd OLD_CHECKOUT && PYTHONPATH=. python /path/to/benchmarks/same_weights.py train /tmp/a dcgan_fashion
    cd NEW_CHECKOUT && PYTHONPATH=. python benchmarks/same_weights.py train /tmp/b dcgan_fashion
    python benchmarks/same_weights.py compare /tmp/a /tmp/b

Trains 5 steps of PRESET at tiny width on synthetic data (seed 0; for the classic presets with
WGAN-GP, n_critic 2, flips and EMA) with whatever gankit is on the path, then compares the
final weights tensor by tensor.
"""

import glob
import sys

import torch

TINY = ["data.name=synthetic", "data.path=null", "data.resolution=32", "data.channels=3", "data.limit=32",
        "data.num_workers=0", "train.batch_size=4", "train.steps=5", "train.log_every=1", "train.sample_every=0",
        "train.ckpt_every=0", "train.progress=false", "train.device=cpu", "model.z_dim=8", "data.hflip=true",
        "train.ema=0.9"]
CLASSIC = ["model.generator.width=8", "model.discriminator.width=8", "loss.adversarial=wgan", "loss.gp_weight=10",
           "optim.n_critic=2"]
STYLE = ["model.generator.width=4", "model.discriminator.width=4", "model.generator.max_channels=8",
         "model.discriminator.max_channels=8", "model.generator.w_dim=8", "model.generator.mapping_layers=1"]


def train(out: str, preset: str) -> None:
    from gankit.config import load_config
    from gankit.train.trainer import train as fit

    over = TINY + (STYLE if preset.startswith("style") else CLASSIC)
    try:
        cfg = load_config(preset, over)
    except Exception:  # a checkout from before data.path replaced data.root
        cfg = load_config(preset, [o for o in over if o != "data.path=null"])
    torch.manual_seed(0)
    fit(cfg, out)


def compare(a: str, b: str) -> int:
    from safetensors.torch import load_file

    ta = load_file(sorted(glob.glob(f"{a}/checkpoints/step_*/weights.safetensors"))[-1])
    tb = load_file(sorted(glob.glob(f"{b}/checkpoints/step_*/weights.safetensors"))[-1])
    same = ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
    print(f"{len(ta)} tensors, {'bit-identical' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    if sys.argv[1] == "train":
        train(sys.argv[2], sys.argv[3])
    else:
        sys.exit(compare(sys.argv[2], sys.argv[3]))
