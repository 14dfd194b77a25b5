"""gankit: a PyTorch workbench for generative adversarial networks.

Layers (imports only point left):
data -> nn -> models -> losses -> recipes -> train -> cli; metrics and editing depend on models.
"""

__version__ = "0.1.0"
