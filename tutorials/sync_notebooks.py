"""Write every tutorial notebook (``NN_name.ipynb``) from its percent-script twin (``NN_name.py``).

The ``.py`` twin is the source of truth: edit it, then run ``python tutorials/sync_notebooks.py``. Cells start at
lines beginning with ``# %%``; ``# %% [markdown]`` cells hold markdown with every line commented out (``# text``),
as jupytext's percent format writes them, so the twin also runs as a plain Python script. The notebooks carry no
outputs and no execution counts, so they diff cleanly. ``--check`` writes nothing and exits with status 1 when a
notebook differs from what its twin gives (``tests/test_tutorials.py`` runs that check).

Only the standard library is used (nbformat v4.5 written with ``json``), so syncing needs no Jupyter install.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

__all__ = ["TUTORIALS_DIR", "notebook_text", "script_to_notebook", "sync", "tutorial_scripts"]

TUTORIALS_DIR = Path(__file__).resolve().parent
# Tutorial twins are named like 01_train_and_sample.py; helper scripts such as this one are not tutorials.
_TUTORIAL_NAME = re.compile(r"^\d\d_\w+\.py$")
_CELL_MARKER = re.compile(r"^# %%(?P<title>.*)$")

_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python", "pygments_lexer": "ipython3"},
}


def tutorial_scripts(folder: Path = TUTORIALS_DIR) -> list[Path]:
    """The tutorials' ``.py`` twins in ``folder``, in order."""
    return sorted(p for p in folder.glob("*.py") if _TUTORIAL_NAME.match(p.name))


def _uncomment(line: str) -> str:
    # "# text" -> "text", a bare "#" -> "" (an empty markdown line).
    if line.startswith("# "):
        return line[2:]
    if line.rstrip() == "#":
        return ""
    raise ValueError(f"markdown line {line!r} must start with '# ' (or be a lone '#').")


def _source(lines: list[str]) -> list[str]:
    # Trim blank lines around the cell, then store it as nbformat does: lines with their newline but the last.
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return [line + "\n" for line in lines[:-1]] + lines[-1:]


def script_to_notebook(text: str) -> dict:
    """The nbformat v4 notebook of a percent script.

    Args:
        text: the script; it must start with a ``# %%`` cell marker.

    Returns:
        The notebook as plain data (cells without outputs).

    Raises:
        ValueError: text before the first cell marker, a markdown cell with an uncommented line, or an empty cell.
    """
    cells: list[tuple[str, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        marker = _CELL_MARKER.match(line)
        if marker:
            title = marker.group("title").strip()
            if title not in ("", "[markdown]"):
                raise ValueError(f"line {number}: cell marker must be '# %%' or '# %% [markdown]', got {line!r}.")
            cells.append(("markdown" if title else "code", []))
        elif not cells:
            if line.strip():
                raise ValueError(f"line {number}: text before the first '# %%' cell marker.")
        else:
            kind, lines = cells[-1]
            lines.append(_uncomment(line) if kind == "markdown" and line.strip() else line.rstrip())
    notebook_cells = []
    for index, (kind, lines) in enumerate(cells):
        source = _source(lines)
        if not source:
            raise ValueError(f"cell {index} ({kind}) is empty.")
        cell = {"cell_type": kind, "id": f"cell-{index:03d}", "metadata": {}, "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        notebook_cells.append(cell)
    return {"cells": notebook_cells, "metadata": _METADATA, "nbformat": 4, "nbformat_minor": 5}


def notebook_text(script: Path) -> str:
    """The exact text of the notebook of ``script`` (one-space indented JSON, as Jupyter writes it)."""
    notebook = script_to_notebook(script.read_text(encoding="utf-8"))
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def sync(scripts: list[Path], check: bool = False) -> list[Path]:
    """Write (or with ``check``, only compare) the notebook beside every script.

    Returns:
        The notebooks that were out of sync (and, without ``check``, have been rewritten).
    """
    stale = []
    for script in scripts:
        notebook = script.with_suffix(".ipynb")
        text = notebook_text(script)
        if not notebook.exists() or notebook.read_text(encoding="utf-8") != text:
            stale.append(notebook)
            if not check:
                notebook.write_text(text, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scripts", nargs="*", type=Path, help="twins to sync (default: every tutorial)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook is out of sync")
    args = parser.parse_args(argv)
    stale = sync(args.scripts or tutorial_scripts(), check=args.check)
    for notebook in stale:
        print(f"{'out of sync' if args.check else 'wrote'}: {notebook}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
