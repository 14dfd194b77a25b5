"""``gankit app`` in a real browser: headless Chromium (Debian's chromium + chromium-driver)
driven by Selenium against one app server over tiny trained runs (a DCGAN, a StarGAN and an
ACL-GAN on drawn emoji-like faces, a style GAN with a saved direction).

Skipped, with the reason, when Gradio, Selenium or the browser is missing; ``make test``
installs them where apt is usable.
"""

from __future__ import annotations

import csv
import io
import importlib.util
import shutil
import socket
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/lib/chromium/chromium")
                 if p and Path(p).is_file()), None)
DRIVER = shutil.which("chromedriver") or next((p for p in ("/usr/lib/chromium/chromedriver",) if Path(p).is_file()), None)


def _missing() -> str | None:
    for mod, how in (("gradio", "pip install 'gankit[app]'"), ("selenium", "pip install 'gankit[dev]'")):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed ({how})"
    if CHROMIUM is None or DRIVER is None:
        return "no headless browser: apt-get install chromium chromium-driver"
    return None


pytestmark = [pytest.mark.browser] + ([pytest.mark.skip(reason=_missing())] if _missing() else [])

ATTRS = ["Tone_1", "Tone_3", "Tone_5", "Male", "Female"]
ATTR_TINY = ["model.generator.width=4", "model.generator.n_res=1", "model.discriminator.width=4",
             "model.discriminator.n_layers=2", "data.resolution=16", "data.num_workers=0", "data.hflip=false",
             "train.batch_size=4", "train.device=cpu", "train.progress=false", "train.sample_every=1",
             "train.ckpt_every=0", "optim.n_critic=1", "train.steps=1"]
STYLE_TINY = ["model.z_dim=8", "model.generator.w_dim=8", "model.generator.mapping_layers=1",
              "model.generator.max_channels=8", "model.generator.width=4", "model.discriminator.width=4",
              "model.discriminator.max_channels=8", "data.name=synthetic", "data.path=null", "data.limit=8",
              "data.resolution=16", "train.batch_size=4", "train.sample_every=1", "train.ckpt_every=0",
              "train.progress=false", "train.device=cpu", "data.num_workers=0", "train.steps=1"]
DC_TINY = ["data.name=synthetic", "data.path=null", "data.resolution=32", "data.channels=3", "data.limit=16",
           "data.num_workers=0", "train.batch_size=4", "train.steps=2", "train.sample_every=1", "train.ckpt_every=0",
           "train.n_samples=4", "train.progress=false", "train.device=cpu", "model.z_dim=8", "model.generator.width=8",
           "model.discriminator.width=8"]
LIMITS = {"max_bytes": 60_000, "max_pixels": 128 * 128}


def make_faces(root: Path) -> Path:
    """An emoji-layout folder: 12 drawn 16x16 faces (tone = colour, Male = beard band, Female =
    side hair), 8 train and 4 test, with attributes.csv."""
    (root / "images").mkdir(parents=True)
    tones = [(250, 225, 200), (200, 150, 110), (90, 60, 40)]
    with open(root / "attributes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "split", *ATTRS])
        for i in range(12):
            t, gender = i % 3, (i // 3) % 3
            img = Image.new("RGB", (16, 16), (176, 196, 222))
            img.paste(tones[t], (4, 3, 12, 13))
            if gender == 1:
                img.paste((40, 30, 20), (4, 10, 12, 13))
            if gender == 2:
                img.paste((120, 70, 30), (2, 2, 4, 15))
            name = f"images/face_{i}.png"
            img.save(root / name)
            w.writerow([name, "test" if i >= 8 else "train", int(t == 0), int(t == 1), int(t == 2),
                        int(gender == 1), int(gender == 2)])
    return root


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """Four runs trained one to four steps (a few seconds on the CPU), and a saved direction."""
    from gankit.config import load_config
    from gankit.editing.directions import save_direction
    from gankit.train.trainer import Trainer

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("app") / "runs"
    faces = make_faces(root / "data" / "faces16")
    Trainer(load_config("dcgan_fashion", DC_TINY), root / "dc").fit()
    for preset, name in (("stargan_emoji", "star"), ("aclgan_emoji", "acl")):
        Trainer(load_config(preset, [*ATTR_TINY, f"data.path={faces}"]), root / name).fit()
    Trainer(load_config("style_emoji64", STYLE_TINY), root / "style").fit()
    save_direction(root / "style" / "directions" / "smile.safetensors", torch.ones(8) * 0.5)
    return root


CONNECTS: list = []  # (event, address) of every socket connect / name lookup while the server runs
_WATCH = {"on": False}


def _audit(event: str, args) -> None:
    if _WATCH["on"] and event in ("socket.connect", "socket.getaddrinfo"):
        CONNECTS.append((event, args[1] if event == "socket.connect" else args[0]))


@pytest.fixture(scope="module")
def server(runs_root):
    import sys

    from gankit.app.server import launch
    from gankit.app.uploads import Limits

    sys.addaudithook(_audit)  # cannot be removed: it records only while _WATCH is on
    _WATCH["on"] = True

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo, url = launch(runs_root, "127.0.0.1", port, "cpu", Limits(**LIMITS), block=False, quiet=True)
    yield url
    _WATCH["on"] = False
    demo.close()


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        opts.add_argument(a)
    opts.binary_location = CHROMIUM
    d = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield d
    d.quit()


@pytest.fixture
def page(driver, server):
    """The app freshly loaded, its tabs shown."""
    driver.get(server)
    _wait(driver, lambda d: d.find_elements("css selector", "#tab-sample-button"))
    return driver


def _wait(d, cond, timeout: float = 30.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(d, timeout, poll_frequency=0.1).until(cond)


def _tab(d, key: str) -> None:
    d.find_element("css selector", f"#tab-{key}-button").click()


def _text(d, elem_id: str) -> str:
    els = d.find_elements("css selector", f"#{elem_id}")
    return els[0].text if els else ""


def _image(d, elem_id: str):
    """(natural width, height, src) of the loaded image in component ``elem_id``, or None."""
    return d.execute_script(
        "const i = document.querySelector(arguments[0] + ' img');"
        "return i && i.complete && i.naturalWidth ? [i.naturalWidth, i.naturalHeight, i.src] : null;", f"#{elem_id}")


def _set_number(d, elem_id: str, value) -> None:
    from selenium.webdriver.common.keys import Keys

    el = d.find_element("css selector", f"#{elem_id} input[type=number]")
    el.send_keys(Keys.CONTROL, "a")
    el.send_keys(str(value), Keys.TAB)


def _upload(d, elem_id: str, path: Path) -> None:
    d.find_element("css selector", f"#{elem_id} input[type=file]").send_keys(str(path))


def test_page_is_served_offline_with_a_tab_per_capability(page, server):
    tabs = [b.text for b in page.find_elements("css selector", "button[role=tab]")]
    assert tabs == ["Runs", "Sample", "Edit attributes", "Latent edit"]
    _tab(page, "sample")
    _wait(page, lambda d: _image(d, "sample-output"))  # the first sample appears as the page opens
    urls = page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    links = page.execute_script("return [...document.querySelectorAll('[src],[href]')].map(e => e.src || e.href)")
    external = [u for u in urls + links if u.startswith(("http:", "https:", "//")) and not u.startswith(server)]
    assert urls and not external, external
    # a path the browser names outside the app's files is not served
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server + "gradio_api/file=/etc/passwd", timeout=10)
    assert e.value.code in (403, 404)


def test_sample_shows_an_image_of_the_requested_size(page):
    _tab(page, "sample")
    first = _wait(page, lambda d: _image(d, "sample-output"))
    _set_number(page, "sample-count", 1)
    _set_number(page, "sample-zoom", 3)
    _set_number(page, "sample-seed", 7)
    page.find_element("css selector", "#sample-button").click()
    w, h, src = _wait(page, lambda d: (r := _image(d, "sample-output")) and r[2] != first[2] and r)
    assert (w, h) == (32 * 3, 32 * 3)  # one 32 px sample, zoom 3, no padding
    assert "1 samples of dc, seed 7" in _text(page, "sample-status")
    href = _wait(page, lambda d: [a.get_attribute("href") for a in d.find_elements("css selector", "#sample-png a")
                                  if ".png" in (a.get_attribute("href") or "")])[0]
    with urllib.request.urlopen(href, timeout=10) as r:  # the download is that PNG
        png = Image.open(io.BytesIO(r.read()))
    assert png.format == "PNG" and png.size == (96, 96)


def test_edit_an_attribute_of_a_test_image(page):
    _tab(page, "edit_attributes")  # first editor run: acl (ACL-GAN: mask and segment)
    thumb = _wait(page, lambda d: d.find_elements("css selector", "#edit-gallery button img"))[0]
    thumb.click()
    _wait(page, lambda d: "test image 0 has" in _text(d, "edit-status"))
    assert _image(page, "edit-original")[:2] == [64, 64]  # 16 px at zoom 4
    label = next(e for e in page.find_elements("css selector", "#edit-attrs label") if e.text.strip() == "Male")
    label.click()
    page.find_element("css selector", "#edit-button").click()
    _wait(page, lambda d: "->" in _text(d, "edit-status"))
    assert "Male" in _text(page, "edit-status")
    for part in ("result", "mask", "segment"):
        assert _wait(page, lambda d: _image(d, f"edit-{part}"))[:2] == [64, 64], part


def test_a_corrupt_upload_gets_a_message(page, tmp_path):
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    _tab(page, "edit_attributes")
    _upload(page, "edit-upload", bad)
    msg = _wait(page, lambda d: "Refused" in (t := _text(d, "edit-status")) and t)
    assert "corrupt.png: not an image that can be read" in msg and "Traceback" not in page.page_source


def test_an_oversized_image_is_refused(page, tmp_path):
    big = tmp_path / "big.png"
    Image.new("RGB", (200, 200), (10, 200, 30)).save(big)  # 40,000 pixels > 16,384, a few hundred bytes
    _tab(page, "latent_edit")
    _upload(page, "latent-upload", big)
    page.find_element("css selector", "#latent-project").click()
    msg = _wait(page, lambda d: "Refused" in (t := _text(d, "latent-status")) and t)
    assert "big.png: 200x200 = 40,000 pixels is over this app's limit of 16,384 pixels" in msg


def test_an_upload_over_the_byte_limit_is_refused_before_it_is_stored(page, tmp_path):
    noisy = tmp_path / "noisy.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 200, 3), dtype=np.uint8)).save(noisy)
    assert noisy.stat().st_size > LIMITS["max_bytes"]
    _tab(page, "edit_attributes")
    _upload(page, "edit-upload", noisy)
    msg = _wait(page, lambda d: "maximum allowed size" in (t := d.find_element("tag name", "body").text) and t)
    assert 'exceed the maximum allowed size of 58.6 Kb: "noisy.png"' in msg


def test_latent_edit_from_a_sample_to_an_animation(page):
    _tab(page, "latent_edit")
    page.find_element("css selector", "#latent-seed-button").click()
    _wait(page, lambda d: _image(d, "latent-recon"))
    page.find_element("css selector", "#latent-animate").click()
    w, h, src = _wait(page, lambda d: _image(d, "latent-anim"))
    assert (w, h) == (64, 64) and "frames" in _text(page, "latent-status")


def test_project_an_uploaded_photo(page, tmp_path):
    from selenium.webdriver.common.keys import Keys

    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (40, 30), (200, 120, 40)).save(photo)
    _tab(page, "latent_edit")
    _upload(page, "latent-upload", photo)
    _set_number(page, "latent-steps", 10)
    box = page.find_element("css selector", "#latent-perc input")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("none", Keys.ENTER)
    page.find_element("css selector", "#latent-project").click()
    msg = _wait(page, lambda d: "projected in" in (t := _text(d, "latent-status")) and t)
    assert "projected in 10 steps" in msg
    w, h, _ = _wait(page, lambda d: _image(d, "latent-recon"))
    assert (w, h) == ((2 * (16 + 2) + 2) * 4, (16 + 4) * 4)  # target | reconstruction, 2 px padding, zoom 4


def test_the_server_reached_nothing_but_this_machine(page):
    """Every connection and name lookup made in this process while the app served the tests
    above (and this page) went to loopback: no analytics, version checks or downloads."""
    import ipaddress

    def local(a) -> bool:
        host = a[0] if isinstance(a, tuple) else a
        if isinstance(host, bytes):
            host = host.decode()
        if host in (None, "localhost", "") or isinstance(a, str) and a.startswith("/"):
            return True  # unix sockets, local names
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    assert CONNECTS, "the audit hook saw nothing (the browser talks to the server over loopback)"
    assert all(local(a) for _, a in CONNECTS), [c for c in CONNECTS if not local(c[1])]
