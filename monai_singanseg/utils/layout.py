"""Old home of the channel layout, kept one release for existing imports: see :mod:`monai_singanseg.layout`."""

from __future__ import annotations

from monai_singanseg.layout import *  # noqa: F401,F403
from monai_singanseg.layout import __all__  # noqa: F401
