"""Showing a written PNG to the person running a tutorial, in a notebook or in a terminal."""

from __future__ import annotations

import os

__all__ = ["show_png"]


def show_png(path: str | os.PathLike) -> None:
    """Display the PNG at ``path`` inline when running in a Jupyter kernel; print its path otherwise.

    IPython is optional: without it, or outside a kernel, the path is printed so the reader can open the file.
    """
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(Image(filename=str(path)))
    else:
        print(f"see {path}")
