"""The tutorials: every percent-script twin runs end to end in quick mode, every notebook is in sync with its twin,
and the notebooks themselves run where a notebook runner (nbclient) is installed."""

from __future__ import annotations

import importlib.util
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
# Generous: quick mode takes 5-20 s a tutorial on 2 idle cores, but CI machines are shared.
TIMEOUT_S = 300


def _load_sync_module():
    spec = importlib.util.spec_from_file_location("sync_notebooks", TUTORIALS / "sync_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync_notebooks = _load_sync_module()
SCRIPTS = sync_notebooks.tutorial_scripts(TUTORIALS)


def _quick_env() -> dict[str, str]:
    """The caller's environment in quick mode, on the built-in data, without VGG19 weights, on one thread.

    Quick mode's layers are too small to gain from threads; on a loaded 2-core machine two OpenMP threads spin-wait
    on each other and made one tutorial 60 times slower (470 s of CPU instead of 8 s).
    """
    env = {**os.environ, "SINGANSEG_QUICK": "1", "OMP_NUM_THREADS": "1"}
    for name in ("SINGANSEG_DATA", "VGG19_WEIGHTS"):
        env.pop(name, None)
    return env


def test_tutorials_one_to_seven_are_present() -> None:
    numbers = [script.name[:2] for script in SCRIPTS]
    assert numbers == ["01", "02", "03", "04", "05", "06", "07"], f"tutorial twins found: {[s.name for s in SCRIPTS]}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.stem)
def test_notebook_is_in_sync_with_its_script_twin(script: Path) -> None:
    notebook = script.with_suffix(".ipynb")
    assert notebook.exists(), f"{notebook.name} is missing: run python tutorials/sync_notebooks.py"
    assert notebook.read_text(encoding="utf-8") == sync_notebooks.notebook_text(script), (
        f"{notebook.name} differs from {script.name}: edit the .py twin, then run python tutorials/sync_notebooks.py"
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.stem)
def test_tutorial_has_one_data_switch_and_a_quick_switch_at_the_top(script: Path) -> None:
    cells = sync_notebooks.script_to_notebook(script.read_text(encoding="utf-8"))["cells"]
    first_code = "".join(next(cell for cell in cells if cell["cell_type"] == "code")["source"])
    assert 'os.environ.get("SINGANSEG_DATA")' in first_code
    assert 'QUICK = os.environ.get("SINGANSEG_QUICK", "0") == "1"' in first_code
    assert 'Path("tutorial_outputs")' in first_code, "outputs belong under ./tutorial_outputs/"


def test_sync_turns_percent_cells_into_markdown_and_code_cells() -> None:
    text = "# %% [markdown]\n# # Title\n#\n# Why.\n\n# %%\nx = 1\n\nprint(x)\n"
    notebook = sync_notebooks.script_to_notebook(text)
    assert notebook["nbformat"] == 4
    markdown, code = notebook["cells"]
    assert (markdown["cell_type"], markdown["source"]) == ("markdown", ["# Title\n", "\n", "Why."])
    assert (code["cell_type"], code["source"], code["outputs"]) == ("code", ["x = 1\n", "\n", "print(x)"], [])


@pytest.mark.parametrize("text", ["x = 1\n# %%\ny = 2\n", "# %% [markdown]\nnot a comment\n", "# %% [raw]\nx\n"])
def test_sync_rejects_scripts_it_cannot_pair_with_a_notebook(text: str) -> None:
    with pytest.raises(ValueError):
        sync_notebooks.script_to_notebook(text)


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.stem)
def test_tutorial_script_runs_in_quick_mode(script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if script == SCRIPTS[0]:
        # The first runs as the program a user starts; the others run in this process, sparing an interpreter
        # start and the torch and MONAI imports (about 7 s of CPU each). The tutorials change no global state.
        result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_quick_env(), capture_output=True,
                                text=True, timeout=TIMEOUT_S)
        assert result.returncode == 0, f"{script.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    else:
        for name, value in _quick_env().items():
            monkeypatch.setenv(name, value)
        for name in ("SINGANSEG_DATA", "VGG19_WEIGHTS"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "argv", [str(script)])
        runpy.run_path(str(script), run_name="__main__")
    outputs = tmp_path / "tutorial_outputs" / script.stem
    assert any(outputs.rglob("*.png")), f"{script.name} wrote no PNG under {outputs}"


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.stem)
def test_notebook_runs_in_quick_mode(script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed: notebooks are checked through "
                                                      "their .py twins only (pip install nbclient ipykernel)")
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (it comes with nbclient)")
    for name, value in _quick_env().items():
        monkeypatch.setenv(name, value)
    for name in ("SINGANSEG_DATA", "VGG19_WEIGHTS"):
        monkeypatch.delenv(name, raising=False)
    notebook = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    assert any((tmp_path / "tutorial_outputs" / script.stem).rglob("*.png"))
