"""The quality-per-compute benchmark: its noise-floor verdict and a tiny end-to-end run on phantom images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_quality  # noqa: E402


def _record(seconds: float, **quality: float) -> dict:
    figures = {"swd": 60.0, "diversity": 0.3, "nonempty": 1.0, "area_ratio": 1.0, "components": 1.0,
               "max_ncc": 0.8, "reconstruction_mse": 0.01, "swd_per_level": [60.0]}
    figures.update(quality)
    return {"seconds": seconds, "gflop": seconds, "pairs_per_second": 5.0, "quality": figures}


def _summary(candidate: dict) -> dict:
    results = {
        "faithful seed 0": {"a": _record(100, swd=58.0), "b": _record(100, swd=62.0)},
        "faithful seed 1": {"a": _record(100, swd=61.0), "b": _record(100, swd=63.0)},
        "candidate": {"a": candidate, "b": candidate},
    }
    return bench_quality.summarise(results, list(results), ["faithful seed 0", "faithful seed 1"])


@pytest.mark.parametrize("swd", [61.0, 40.0])
def test_a_candidate_inside_the_seed_spread_or_better_holds_every_figure(swd):
    summary = _summary(_record(10, swd=swd, reconstruction_mse=0.005))
    assert summary["candidate"]["speedup"] == pytest.approx(10.0)
    assert all(summary["candidate"]["holds"].values())


@pytest.mark.parametrize(
    "quality, failing",
    [
        ({"swd": 90.0}, "swd"),  # faithful seeds 60.0 and 62.0: band 58-64
        ({"diversity": 0.9}, "diversity"),  # noise-like samples
        ({"area_ratio": 3.0}, "area_ratio"),
        ({"diversity": 0.05}, "diversity"),  # collapsed samples
        ({"nonempty": 0.5}, "nonempty"),  # half the masks empty
        ({"max_ncc": 0.99}, "max_ncc"),  # a near-copy of the training image
        ({"reconstruction_mse": 0.2}, "reconstruction_mse"),
        ({"components": 1.5}, "components"),  # masks split in parts
    ],
)
def test_a_candidate_outside_the_seed_spread_fails_that_figure(quality, failing):
    holds = _summary(_record(10, **quality))["candidate"]["holds"]
    assert not holds[failing]
    assert all(ok for name, ok in holds.items() if name != failing)


def test_fewer_split_masks_than_the_seeds_hold():
    results = {
        "faithful seed 0": {"a": _record(100, components=1.10)},
        "faithful seed 1": {"a": _record(100, components=1.12)},
        "one polyp each": {"a": _record(10, components=1.0)},
    }
    summary = bench_quality.summarise(results, list(results), ["faithful seed 0", "faithful seed 1"])
    assert summary["one polyp each"]["holds"]["components"]


def test_candidates_parse_as_recipes_or_field_values():
    from monai_singanseg.settings import SinGANSegSettings

    base = SinGANSegSettings(max_size=64)
    assert bench_quality.parse_candidate("fast", base)[1] == SinGANSegSettings.from_recipe("fast", max_size=64)
    name, settings = bench_quality.parse_candidate("short=iterations:10,warm_start:false", base)
    assert (name, settings.iterations, settings.warm_start, settings.max_size) == ("short", 10, False, 64)
    with pytest.raises(ValueError, match="not a recipe"):
        bench_quality.parse_candidate("quick", base)
    with pytest.raises(ValueError, match="'iters' is not a setting"):
        bench_quality.parse_candidate("short=iters:10", base)


def _main(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """``bench_quality.py ARGV`` run in this process: its exit code, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", [str(BENCHMARKS / "bench_quality.py"), *argv])
    capsys.readouterr()
    try:
        code = bench_quality.main()
    except SystemExit as exit_:  # argparse's errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_benchmark_trains_scores_and_reuses_models(tmp_path, monkeypatch, capsys):
    from monai_singanseg.data.phantom import endoscopy_phantom
    from monai_singanseg.data.writers import write_png

    for name, seed in (("a", 1), ("b", 2)):
        image, mask = endoscopy_phantom(30, 34, seed=seed)
        write_png(image.transpose(1, 2, 0), tmp_path / "data" / "images" / f"{name}.png")
        write_png(mask[0], tmp_path / "data" / "masks" / f"{name}.png")
    arguments = ["--data", str(tmp_path / "data"), "--num-images", "2", "--max-size", "30", "--min-size", "20",
                 "--iterations", "2", "--base-features", "4", "--max-features", "4", "--num-samples", "4",
                 "--sampling-pairs", "2", "--grid-samples", "2", "--candidate", "short=iterations:1", "--threads", "1",
                 "--out", str(tmp_path / "out")]
    # Once as the command it is, then, to spare three interpreter starts, in this process.
    first = subprocess.run([sys.executable, str(BENCHMARKS / "bench_quality.py"), *arguments], check=False,
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "training faithful seed 0 on a" in first.stdout
    table = (tmp_path / "out" / "quality.md").read_text()
    assert "| faithful seed 0" in table and "| short" in table and "faithful seed range" in table
    assert (tmp_path / "out" / "quality_vs_time.png").stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "out" / "grids").iterdir()) == ["a.png", "b.png"]
    code, out, _ = _main(arguments, monkeypatch, capsys)
    assert code == 0 and "| faithful seed 0" in out and "training" not in out  # every model is reused
    # --rows takes row names or their folder names, and refuses a name that would silently train nothing.
    code, _, err = _main([*arguments, "--rows", "faithful_seed_9"], monkeypatch, capsys)
    assert code == 2 and "--rows faithful_seed_9: no such row" in err
    code, out, _ = _main([*arguments, "--rows", "faithful_seed_0", "--no-report"], monkeypatch, capsys)
    assert code == 0 and "base settings" in out and "training" not in out
    # --count-only counts every row's work and trains nothing; --recipe makes that recipe's seeds the noise floor.
    code, out, _ = _main([*arguments, "--count-only", "--recipe", "fast"], monkeypatch, capsys)
    counts = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert code == 0 and "training" not in out and "faithful seed 0" not in counts
    assert counts["fast seed 0"].rstrip(" |").endswith("1x") and "x less" in counts["short"]
