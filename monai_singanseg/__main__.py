"""``python -m monai_singanseg COMMAND ...``: the ``monai-singanseg`` command line, also for
``torchrun --nproc_per_node N -m monai_singanseg train-many ...``."""

from __future__ import annotations

import sys

from monai_singanseg.cli import main

if __name__ == "__main__":
    sys.exit(main())
