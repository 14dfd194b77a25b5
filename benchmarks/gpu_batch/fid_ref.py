"""Real-vs-real reference for the edit FIDs: all 816 real train images (other emoji) vs the 210 real test images."""
import json
import os

from gankit.pipelines import attribute_source as _source
from gankit.editing.classifier import load_arrays
from gankit.editing.scoring import edit_fid
from gankit.metrics.sources import DatasetSource

names = ["Tone_1", "Tone_3", "Tone_5", "Male", "Female"]
test = _source("emoji", "data/emoji64", "test", 64, names)
x, _ = load_arrays(_source("emoji", "data/emoji64", "train", 64, names))
print(json.dumps({"train_real_vs_test_real": edit_fid(x, DatasetSource(test, name="emoji:test"), os.environ.get("DEV", "cuda"))["fid"]}))
