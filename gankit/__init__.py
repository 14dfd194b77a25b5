"""gankit: a PyTorch workbench for generative adversarial networks.

Layers (imports only point left; tests/test_layering.py checks every import):
data -> nn -> models -> losses -> recipes -> train -> pipelines -> studies -> cli;
metrics and editing depend on models and data, never on recipes, train or above.
"""

__version__ = "0.1.0"
