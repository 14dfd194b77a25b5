"""``gankit app`` end to end: time from launch to the first image, and a screenshot of each tab.

    gankit data emoji --size 64 --out data/emoji64            # once (the attribute run's data)
    python benchmarks/app_demo.py --runs runs/app_demo --emoji data/emoji64 --shots docs/img
    python benchmarks/app_demo.py --runs runs/app_demo --measure-only       # timing only, 3 launches

Trains (once; reused when its checkpoint exists) three small CPU runs under --runs: ``dc``
(DCGAN, Fashion-MNIST 32), ``acl`` (ACL-GAN, emoji 32: mask and segment), ``style`` (style
GAN, Fashion-MNIST 32, with a direction in style/directions/) and, when their data exist,
``music`` (MidiNet model 3: Compose tab), ``p2p`` (pix2pix, emoji styles: Translate), ``sr``
(SRResNet warm-up, emoji 64: Upscale), ``ce`` (context encoder, Fashion-MNIST: Inpaint) and
``t2i`` (GAN-INT-CLS, emoji 32, with a small caption encoder in RUNS_te/: Text to image). Then starts ``gankit app RUNS``
as a separate process and, in headless Chromium, measures the seconds from the command's start
to (a) the server answering and (b) the Sample tab's first image being on the page. Needs
gankit[app], selenium and Debian's chromium + chromium-driver.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RUNS = {
    "dc": ("dcgan_fashion", ["model.generator.width=16", "model.discriminator.width=16", "train.batch_size=32"]),
    "acl": ("aclgan_emoji", ["data.resolution=32", "model.generator.width=16", "model.generator.n_res=2",
                             "model.discriminator.width=16", "model.discriminator.n_layers=4", "train.batch_size=8",
                             "optim.n_critic=1"]),
    "style": ("style_fashion32", ["model.z_dim=64", "model.generator.w_dim=64", "model.generator.mapping_layers=2",
                                  "model.generator.width=16", "model.generator.max_channels=64",
                                  "model.discriminator.width=16", "model.discriminator.max_channels=64",
                                  "train.batch_size=16", "train.ema=0.99"]),
    "music": ("midinet_chorales", ["train.batch_size=32"]),
    "p2p": ("pix2pix_emoji", ["data.resolution=32", "model.generator.width=16", "model.discriminator.width=16",
                              "model.discriminator.n_layers=2", "train.batch_size=8"]),
    "sr": ("srgan_emoji", ["data.resolution=64", "model.generator.width=16", "model.generator.blocks=2",
                           "model.discriminator.width=16", "model.discriminator.fc=64", "train.batch_size=8",
                           "recipe.kwargs.warmup=1000000"]),  # the SRResNet warm-up only (pixel loss)
    "ce": ("inpaint_fashion", ["model.generator.width=16", "model.generator.max_width=64",
                               "model.discriminator.width=16", "model.discriminator.max_width=64",
                               "train.batch_size=16"]),
    "t2i": ("gan_int_cls_emoji", ["data.resolution=32", "model.generator.width=16", "model.discriminator.width=16",
                                  "train.batch_size=16", "train.ema=0.9"]),  # text encoder: RUNS_te/
}
# runs whose data.path comes from a command-line folder (run -> key of that folder); skipped when it is missing
DATA = {"acl": "emoji", "music": "chorales", "p2p": "emoji_styles", "sr": "emoji128", "t2i": "emoji"}


def text_encoder(root: Path, emoji: str) -> Path:
    """A small caption encoder for the text-to-image demo run (trained once, 300 steps)."""
    out = root.parent / f"{root.name}_te"  # beside the runs folder: not a run the app lists
    if not (out / "text_encoder.json").is_file():
        subprocess.run([sys.executable, "-m", "gankit.cli.main", "train-text-encoder", "--data", "emoji_captions",
                        "--root", emoji, "--resolution", "32", "--steps", "300", "--width", "32", "--emb-dim", "64",
                        "--out", str(out), "--device", "cpu"], check=True, stdout=subprocess.DEVNULL)
    return out


def train_runs(root: Path, folders: dict[str, str], steps: int) -> None:
    import torch

    from gankit.config import load_config
    from gankit.editing.directions import save_direction
    from gankit.train.state import latest_checkpoint
    from gankit.train.trainer import Trainer

    for name, (preset, extra) in RUNS.items():
        if latest_checkpoint(root / name) is not None:
            continue
        folder = folders.get(DATA.get(name))
        if folder is not None and not Path(folder).is_dir():
            print(f"skipped the {name} run ({preset}): no {folder}", flush=True)
            continue
        data = [f"data.path={folder}"] if folder is not None else []
        if name == "t2i":
            data.append(f"recipe.kwargs.text_encoder={text_encoder(root, folder)}")
        over = [*extra, *data, f"train.steps={steps}", f"train.sample_every={max(steps // 4, 1)}",
                f"train.ckpt_every={steps}", "train.device=cpu", "data.num_workers=0"]
        t = time.time()
        Trainer(load_config(preset, over), root / name).fit()
        print(f"trained {name} ({preset}) {steps} steps in {time.time() - t:.0f} s", flush=True)
    d = root / "style" / "directions" / "random_demo.safetensors"
    if not d.exists():  # a stand-in direction (a unit vector from a seed); real ones: gankit direction --out
        v = torch.randn(64, generator=torch.Generator().manual_seed(3))
        save_direction(d, 2.0 * v / v.norm(), {"kind": "random demo"})


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1000", "--hide-scrollbars"):
        opts.add_argument(a)
    opts.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def _wait(d, cond, timeout=120.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(d, timeout, poll_frequency=0.05).until(cond)


def _img(d, elem_id):
    return d.execute_script("const i = document.querySelector(arguments[0] + ' img');"
                            "return i && i.complete && i.naturalWidth ? i.src : null;", f"#{elem_id}")


def launch_and_measure(root: Path, d, port: int):
    """(process, url, seconds to the server answering, seconds to the first sample on the page)."""
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "gankit.cli.main", "app", str(root), "--port", str(port),
                             "--device", "cpu"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"gankit app exited: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.05)
    ready = time.time() - t0
    d.get(url)
    _wait(d, lambda d: d.find_elements("css selector", "#tab-sample-button")).__getitem__(0).click()
    _wait(d, lambda d: _img(d, "sample-output"))
    return proc, url, ready, time.time() - t0


def screenshots(d, out: Path) -> list[Path]:
    """One PNG per tab, each after its usual first action."""
    files = []

    def shot(name):
        time.sleep(0.5)
        files.append(out / f"app_{name}.png")
        d.save_screenshot(str(files[-1]))

    d.find_element("css selector", "#tab-runs-button").click()
    _wait(d, lambda d: _img(d, "runs-grid"))
    shot("runs")
    d.find_element("css selector", "#tab-sample-button").click()
    _wait(d, lambda d: _img(d, "sample-output"))
    shot("sample")
    d.find_element("css selector", "#tab-edit_attributes-button").click()
    _wait(d, lambda d: d.find_elements("css selector", "#edit-gallery button img"))[1].click()
    _wait(d, lambda d: "has" in d.find_element("css selector", "#edit-status").text)
    for label in d.find_elements("css selector", "#edit-attrs label"):
        if label.text.strip() == "Tone_5":
            label.click()
    d.find_element("css selector", "#edit-button").click()
    _wait(d, lambda d: _img(d, "edit-segment"))
    shot("edit_attributes")
    d.find_element("css selector", "#tab-latent_edit-button").click()
    _wait(d, lambda d: d.find_elements("css selector", "#latent-seed-button"))[0].click()
    _wait(d, lambda d: _img(d, "latent-recon"))
    d.find_element("css selector", "#latent-animate").click()
    _wait(d, lambda d: _img(d, "latent-anim"))
    d.execute_script("document.querySelector('#latent-recon').scrollIntoView()")
    shot("latent_edit")
    for key, button, result in (("translate", "translate-button", "translate-translation"),
                                ("upscale", "upscale-button", "upscale-2"), ("inpaint", "inpaint-button", "inpaint-filled")):
        if not d.find_elements("css selector", f"#tab-{key}-button"):
            continue
        d.find_element("css selector", f"#tab-{key}-button").click()
        _wait(d, lambda d: d.find_elements("css selector", f"#{key}-gallery button img"))[0].click()
        time.sleep(0.5)
        d.find_element("css selector", f"#{button}").click()
        _wait(d, lambda d: _img(d, result))
        shot(key)
    if d.find_elements("css selector", "#tab-text2img-button"):
        d.find_element("css selector", "#tab-text2img-button").click()
        box = _wait(d, lambda d: d.find_elements("css selector", "#text2img-caption textarea"))[0]
        box.send_keys("an old woman with white hair")
        d.find_element("css selector", "#text2img-button").click()
        _wait(d, lambda d: _img(d, "text2img-output"))
        shot("text2img")
    if d.find_elements("css selector", "#tab-compose-button"):
        d.find_element("css selector", "#tab-compose-button").click()
        _wait(d, lambda d: d.find_elements("css selector", "#compose-button"))[0].click()
        _wait(d, lambda d: _img(d, "compose-roll"))
        shot("compose")
    return files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="runs/app_demo")
    ap.add_argument("--emoji", default="data/emoji64", help="emoji build for the attribute run (gankit data emoji)")
    ap.add_argument("--chorales", default="data/chorales",
                    help="chorales build for the music run (gankit data chorales)")
    ap.add_argument("--emoji-styles", default="data/emoji_styles64",
                    help="the translation run's data (gankit data emoji-styles --styles noto,twemoji --size 64)")
    ap.add_argument("--emoji128", default="data/emoji128", help="the upscaling run's data (gankit data emoji --size 128)")
    ap.add_argument("--steps", type=int, default=300, help="training steps of each demo run")
    ap.add_argument("--shots", default=None, help="folder for the tab screenshots (e.g. docs/img)")
    ap.add_argument("--repeat", type=int, default=3, help="launches timed")
    ap.add_argument("--measure-only", action="store_true", help="no training, no screenshots")
    args = ap.parse_args()
    root = Path(args.runs)
    if not args.measure_only:
        train_runs(root, {"emoji": args.emoji, "chorales": args.chorales, "emoji_styles": args.emoji_styles,
                          "emoji128": args.emoji128}, args.steps)
    d = _browser()
    try:
        for i in range(args.repeat):
            proc, url, ready, first = launch_and_measure(root, d, _port())
            print(f"launch {i + 1}: server answers after {ready:.1f} s, first image on the page after {first:.1f} s",
                  flush=True)
            if args.shots and i == args.repeat - 1:
                Path(args.shots).mkdir(parents=True, exist_ok=True)
                for f in screenshots(d, Path(args.shots)):
                    print(f"wrote {f}")
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        d.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
