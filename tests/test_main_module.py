"""``python -m monai_singanseg`` runs the command line; the old ``monai_singanseg.train_many`` still works."""

from __future__ import annotations

import hashlib
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import monai_singanseg.train_many as old_home
from monai_singanseg.apps.mri import member_seed
from monai_singanseg.data.fleet import image_seed
from monai_singanseg.engines import fleet
from monai_singanseg.utils.seeds import keyed_seed, sample_seed

ROOT = Path(__file__).resolve().parents[1]


def _python(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def _run_module(module: str, *args: str, monkeypatch: pytest.MonkeyPatch) -> int:
    # What ``python -m module args`` runs, in this process: a subprocess would spend seconds importing torch again.
    monkeypatch.setattr(sys, "argv", [module, *args])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    return stopped.value.code


# The test imports monai_singanseg.train_many itself, so runpy warns that it runs a module already imported.
@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")
@pytest.mark.parametrize("module, args", [
    ("monai_singanseg", ("train-many", "--help")),
    ("monai_singanseg.train_many", ("--help",)),
])
def test_module_runs_the_command_line(module, args, monkeypatch, capsys):
    assert _run_module(module, *args, monkeypatch=monkeypatch) == 0
    assert "--models-per-batch" in capsys.readouterr().out


def test_package_module_lists_the_commands(monkeypatch, capsys):
    assert _run_module("monai_singanseg", "--help", monkeypatch=monkeypatch) == 0
    assert "train-many" in capsys.readouterr().out


def test_module_reports_a_user_mistake_in_one_line(tmp_path, monkeypatch, capsys):
    code = _run_module("monai_singanseg", "train-many", "--data", str(tmp_path / "absent"), "--out",
                       str(tmp_path / "bank"), monkeypatch=monkeypatch)
    err = capsys.readouterr().err
    assert code == 2 and "absent" in err and "Traceback" not in err


def test_command_module_imports_the_engine_not_the_old_module():
    done = _python("-c", "import sys, monai_singanseg.cli.train_many; print('monai_singanseg.train_many' in sys.modules)")
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-2000:]


def test_old_module_re_exports_the_engine():
    assert old_home.train_many is fleet.train_many and old_home.launch is fleet.launch
    assert old_home.summary_path is fleet.summary_path
    assert old_home.distributed_environment is fleet.distributed_environment


def test_seed_rules_match_the_recorded_formulas():
    # The numbers existing banks and sample folders were made with: the rules must never drift.
    assert sample_seed(3, 4) == 3 * 1_000_003 + 4
    assert keyed_seed("p1", 5) == (5 + int(hashlib.sha256(b"p1").hexdigest()[:8], 16)) % 2**31
    assert image_seed("p1", 5) == keyed_seed("p1", 5) and member_seed("s1", 2, 5) == keyed_seed("s1/2", 5)
    assert keyed_seed("p1", 5) != keyed_seed("p2", 5) and 0 <= keyed_seed("x" * 100, 2**31 - 1) < 2**31
