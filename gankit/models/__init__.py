"""Networks, one file per family, each registered by name (see :mod:`gankit.models.base`)."""

from gankit.models.base import DISCRIMINATORS, GENERATORS, build_net, rebuild_net

# Importing the family modules registers them.
from gankit.models import dcgan, infogan, midinet, mlp, points, r3gan, resnet, stargan, style  # noqa: E402,F401
from gankit.models import restore  # noqa: E402,F401  (SRGAN, context encoder)
from gankit.models import translation  # noqa: E402,F401  (pix2pix, CycleGAN)
from gankit.models import text2img  # noqa: E402,F401  (GAN-INT-CLS, StackGAN)

__all__ = ["GENERATORS", "DISCRIMINATORS", "build_net", "rebuild_net"]
