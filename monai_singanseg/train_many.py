"""Deprecated home of the fleet trainer, kept for one release: use :mod:`monai_singanseg.engines.fleet` (the
engine) and ``python -m monai_singanseg train-many`` (the command).

``python -m monai_singanseg.train_many ...`` and ``torchrun -m monai_singanseg.train_many ...`` still run the
``train-many`` command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from monai_singanseg.engines.fleet import distributed_environment, launch, summary_path, train_many

__all__ = ["distributed_environment", "launch", "main", "summary_path", "train_many"]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m monai_singanseg.train_many``: the ``train-many`` command of :func:`monai_singanseg.cli.main`."""
    from monai_singanseg.cli import main as cli_main

    return cli_main(["train-many", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
