"""Data sources, decoding, GPU-resident batching and fingerprints."""
