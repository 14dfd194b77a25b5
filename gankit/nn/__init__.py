"""Layers: normalizations (batch/instance/AdaIN/spectral), mapping MLP, style blocks."""
