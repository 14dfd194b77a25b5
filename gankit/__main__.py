"""``python -m gankit`` (and ``torchrun ... -m gankit train ...``): the command line."""

import sys

from gankit.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
