"""``benchmarks/bench_single_model.py``: a recipe's timing estimates that recipe's own schedule."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_single_model  # noqa: E402


def _estimate_line(monkeypatch, capsys, *flags: str) -> str:
    argv = ["bench_single_model.py", "--max-size", "32", "--min-size", "20", "--base-features", "8", "--iterations",
            "2", "--threads", "1", *flags]
    monkeypatch.setattr(sys, "argv", argv)
    assert bench_single_model.main() == 0
    return next(line for line in capsys.readouterr().out.splitlines() if line.startswith("Estimated"))


@pytest.mark.parametrize(("flags", "schedule"), [
    (("--recipe", "draft"), "iterations 1000 /"),
    (("--recipe", "faithful"), "2000 iterations per scale"),
    (("--recipe", "draft", "--full-iterations", "400", "--full-finest-iterations", "0"), "400 iterations per scale"),
])
def test_the_estimate_follows_the_recipes_schedule_unless_told_otherwise(monkeypatch, capsys, flags, schedule):
    assert schedule in _estimate_line(monkeypatch, capsys, *flags)
