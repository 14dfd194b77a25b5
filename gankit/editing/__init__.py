"""Latent editing: projection into W/W+ (projection), edit directions (directions), DCGAN-style
vector arithmetic (arithmetic), grids/GIF/MP4/latent files (media). See docs/editing.md.

Kept light on purpose: import the submodules you need."""
