"""``show_png``: the tutorials' one way to show a figure, inline in a notebook kernel and as a path elsewhere."""

import sys
import types

from monai_singanseg.visualize import show_png


def _fake_ipython(monkeypatch, kernel):
    shown = []
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: kernel
    display = types.ModuleType("IPython.display")
    display.Image = lambda filename: ("image", filename)
    display.display = shown.append
    ipython.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return shown


def test_a_kernel_shows_the_png_inline(monkeypatch, tmp_path, capsys):
    shown = _fake_ipython(monkeypatch, kernel=object())
    show_png(tmp_path / "grid.png")
    assert shown == [("image", str(tmp_path / "grid.png"))]
    assert capsys.readouterr().out == ""


def test_outside_a_kernel_the_path_is_printed(monkeypatch, tmp_path, capsys):
    shown = _fake_ipython(monkeypatch, kernel=None)
    show_png(tmp_path / "grid.png")
    assert shown == []
    assert capsys.readouterr().out == f"see {tmp_path / 'grid.png'}\n"


def test_without_ipython_the_path_is_printed(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "IPython", None)  # import IPython raises ImportError
    show_png(tmp_path / "grid.png")
    assert capsys.readouterr().out == f"see {tmp_path / 'grid.png'}\n"
