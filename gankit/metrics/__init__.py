"""Image-quality metrics on Inception features: FID, KID, precision/recall.

Stages (each a pure function of the previous one's output, the costly one cached by content):
sources (uint8 batches) -> features (inception.py, features.py) -> statistics -> scores
(fid.py, kid.py, pr.py). ``api.evaluate`` and ``api.FIDMonitor`` tie them together.
Importing this package loads no network and touches no hardware.
"""

from gankit.metrics.api import METRICS, FIDMonitor, StatsRef, evaluate, protocol_string
from gankit.metrics.fid import FIDResult, feature_stats, fid_from_features, frechet_distance, load_stats, save_stats
from gankit.metrics.inception import InceptionFeatures, find_weights, load_inception
from gankit.metrics.kid import KIDResult, kid
from gankit.metrics.pr import PRResult, precision_recall
from gankit.metrics.sources import (ArraySource, DatasetSource, FolderSource, GeneratorSource, dataset_preset_source,
                                    fashion_mnist_source, generator_to_uint8)

__all__ = ["METRICS", "FIDMonitor", "StatsRef", "evaluate", "protocol_string", "FIDResult", "feature_stats",
           "fid_from_features", "frechet_distance", "load_stats", "save_stats", "InceptionFeatures", "find_weights",
           "load_inception", "KIDResult", "kid", "PRResult", "precision_recall", "ArraySource", "DatasetSource",
           "FolderSource", "GeneratorSource", "dataset_preset_source", "fashion_mnist_source", "generator_to_uint8"]
