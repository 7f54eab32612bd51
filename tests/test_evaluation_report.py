"""The evaluation report, built through the CLI on tiny PNG data and on endotect_dev when it is present."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from monai_singanseg.cli import main
from monai_singanseg.networks.inception_sifid import InceptionSIFIDFeatures
from monai_singanseg.networks.lpips import LPIPSAlexNet
from monai_singanseg.evaluation.comparison import set_names

ENDOTECT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "polyp" / "endotect_dev"
REPORT_FILES = {
    "metrics.json",
    "report.md",
    "samples_real.png",
    "samples_synthetic.png",
    "foreground_fraction_histogram.png",
    "mask_mean_std.png",
    "closest_pairs.png",
}


def smooth_rgb(seed: int, size: tuple[int, int] = (48, 40)) -> np.ndarray:
    """A smooth random RGB picture: 4x4 random colours resized up."""
    colours = np.random.default_rng(seed).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(colours).resize(size, Image.BILINEAR))


def ellipse_mask(seed: int, size: tuple[int, int] = (48, 40)) -> np.ndarray:
    """A 3-channel 0/255 mask holding one ellipse, as polyp masks are stored."""
    rng = np.random.default_rng(seed + 1000)
    left, top = int(rng.integers(2, size[0] // 2)), int(rng.integers(2, size[1] // 2))
    right, bottom = left + int(rng.integers(8, 20)), top + int(rng.integers(8, 18))
    picture = Image.new("RGB", size)
    ImageDraw.Draw(picture).ellipse([left, top, right, bottom], "white")
    return np.asarray(picture)


def write_set(
    folder: Path, name: str, pictures: list[tuple[np.ndarray, np.ndarray]], source: str | None = None
) -> Path:
    """PNG images and masks in ``folder`` with a datalist of paths relative to it (and a ``source_image``)."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, (image, mask) in enumerate(pictures):
        Image.fromarray(image).save(folder / f"{name}_{index}.png")
        Image.fromarray(mask).save(folder / f"{name}_{index}_mask.png")
        entries.append({"image": f"{name}_{index}.png", "label": f"{name}_{index}_mask.png"})
        if source is not None:
            entries[-1]["source_image"] = source
    datalist = folder / f"{name}.json"
    datalist.write_text(json.dumps({"training": entries}))
    return datalist


def evaluate(*arguments: str) -> int:
    return main(["evaluate", *arguments, "--no-progress"])


def endotect_entry(image: Path) -> dict[str, str]:
    return {"image": str(image), "label": str(ENDOTECT / "masks" / f"{image.stem}.png")}


@pytest.fixture
def tiny_real(tmp_path: Path) -> Path:
    return write_set(tmp_path / "real", "real", [(smooth_rgb(seed), ellipse_mask(seed)) for seed in range(4)])


def test_cli_writes_a_safe_report_for_new_images(tmp_path: Path, tiny_real: Path) -> None:
    synthetic = write_set(
        tmp_path / "synthetic", "synthetic", [(smooth_rgb(seed), ellipse_mask(seed)) for seed in range(10, 15)]
    )
    out = tmp_path / "report"
    assert evaluate("--real", str(tiny_real), "--synthetic", str(synthetic), "--out", str(out), "--size", "32") == 0
    assert {path.name for path in out.iterdir()} == REPORT_FILES
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["num_real"] == 4 and metrics["settings"]["num_synthetic"] == 5
    assert metrics["verdict"]["safe"] is True and metrics["memorisation"]["num_flagged"] == 0
    report = (out / "report.md").read_text()
    assert "| Safe to share? | yes |" in report and "0.95" in report and "looks safe to share" in report
    assert "| - images |" in report and "| - masks |" in report and "p at least 0.025" in report
    assert len(metrics["fidelity"]["patch_test"]["real_distances"]) == 4


def test_cli_flags_planted_flipped_copy(tmp_path: Path, tiny_real: Path) -> None:
    copy = (smooth_rgb(2)[:, ::-1].copy(), ellipse_mask(2)[:, ::-1].copy())
    synthetic = write_set(
        tmp_path / "synthetic", "synthetic", [copy] + [(smooth_rgb(seed), ellipse_mask(seed)) for seed in (20, 21)]
    )
    out = tmp_path / "report"
    assert evaluate("--real", str(tiny_real), "--synthetic", str(synthetic), "--out", str(out), "--size", "32") == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["verdict"]["safe"] is False
    assert [(item["synthetic"], item["real"], item["flip"]) for item in metrics["memorisation"]["flagged"]] == [
        ("synthetic_0.png", "real_2.png", "horizontal")
    ]
    assert "NOT safe to share" in (out / "report.md").read_text()


def test_diversity_groups_samples_by_their_source_image(tmp_path: Path, tiny_real: Path) -> None:
    same_picture = (smooth_rgb(30), ellipse_mask(30))
    synthetic = write_set(tmp_path / "synthetic", "synthetic", [same_picture] * 3, source="../real/real_1.png")
    out = tmp_path / "report"
    assert evaluate("--real", str(tiny_real), "--synthetic", str(synthetic), "--out", str(out), "--size", "32") == 0
    diversity = json.loads((out / "metrics.json").read_text())["diversity"]
    assert diversity == {"singan_diversity": 0.0, "num_groups": 1, "grouping": "source_image", "unmatched_sources": 0}
    assert "It is not diverse" in (out / "report.md").read_text()


def test_samples_naming_a_source_outside_the_real_set_are_reported(tmp_path: Path, tiny_real: Path) -> None:
    # Generated from another set than --real: a likely mix-up of datalists, said in the report, not silently regrouped.
    synthetic = write_set(tmp_path / "synthetic", "synthetic", [(smooth_rgb(s), ellipse_mask(s)) for s in (40, 41)],
                          source="../elsewhere/other.png")
    out = tmp_path / "report"
    assert evaluate("--real", str(tiny_real), "--synthetic", str(synthetic), "--out", str(out), "--size", "32") == 0
    diversity = json.loads((out / "metrics.json").read_text())["diversity"]
    assert diversity["grouping"] == "nearest_real" and diversity["unmatched_sources"] == 2
    report = (out / "report.md").read_text()
    assert "2 synthetic image(s) name a source image that is not in the real datalist" in report


def test_several_synthetic_sets_get_one_report_each_and_a_ranking(tmp_path: Path, tiny_real: Path) -> None:
    fresh = write_set(tmp_path / "fresh", "datalist", [(smooth_rgb(s), ellipse_mask(s)) for s in range(10, 14)])
    copied = write_set(tmp_path / "copied", "datalist", [(smooth_rgb(s), ellipse_mask(s)) for s in (0, 1, 12)])
    out = tmp_path / "report"
    assert evaluate("--real", str(tiny_real), "--synthetic", str(fresh), str(copied), "--out", str(out),
                    "--size", "32") == 0
    assert {p.name for p in out.iterdir()} == {"fresh", "copied", "comparison.json", "comparison.md",
                                               "foreground_fraction_histogram.png"}
    for name in ("fresh", "copied"):
        assert {p.name for p in (out / name).iterdir()} == REPORT_FILES
    summary = json.loads((out / "comparison.json").read_text())
    rows = {row["set"]: row for row in summary["sets"]}
    assert rows["fresh"]["safe"] is True and rows["copied"]["safe"] is False and rows["copied"]["num_flagged"] == 2
    assert rows["copied"]["max_ncc"] > rows["fresh"]["max_ncc"]
    per_set = json.loads((out / "fresh" / "metrics.json").read_text())
    assert rows["fresh"]["swd_x1e3_image"] == per_set["fidelity"]["swd_x1e3_mean"]["image"]
    assert rows["fresh"]["image_test_p"] == per_set["fidelity"]["patch_test"]["p_value"]
    assert rows["fresh"]["mask_test_p"] == per_set["fidelity"]["masks"]["ks_p_value"]
    table = (out / "comparison.md").read_text()
    assert "[fresh](fresh/report.md)" in table and "| [copied](copied/report.md) | 3 |" in table


def write_perceptual_weights(folder: Path) -> list[str]:
    """Random-weight files under the published key names, as the CLI options expect them."""
    torch.manual_seed(0)
    lpips_network = LPIPSAlexNet(pretrained=False)
    state = lpips_network.state_dict()
    files = {
        "--inception-weights": ("inception.pth", InceptionSIFIDFeatures(pretrained=False).state_dict()),
        "--alexnet-weights": ("alexnet.pth", {k: v for k, v in state.items() if k.startswith("features.")}),
        "--lpips-weights": ("alex.pth", {k: v.abs() for k, v in state.items() if k.startswith("lin")}),
    }
    arguments = []
    for option, (name, weights) in files.items():
        torch.save(weights, folder / name)
        arguments += [option, str(folder / name)]
    return arguments


def test_perceptual_scores_rank_copies_closer(tmp_path: Path, tiny_real: Path) -> None:
    fresh = write_set(tmp_path / "fresh", "datalist", [(smooth_rgb(s), ellipse_mask(s)) for s in range(10, 14)],
                      source="../real/real_1.png")
    copied = write_set(tmp_path / "copied", "datalist", [(smooth_rgb(s), ellipse_mask(s)) for s in (0, 1, 12)])
    out = tmp_path / "report"
    weights = write_perceptual_weights(tmp_path)
    assert evaluate("--real", str(tiny_real), "--synthetic", str(fresh), str(copied), "--out", str(out),
                    "--size", "32", *weights) == 0
    rows = {row["set"]: row for row in json.loads((out / "comparison.json").read_text())["sets"]}
    for score in ("sifid_mean", "lpips_to_real_mean"):
        assert 0 <= rows["copied"][score] < rows["fresh"][score]
    assert rows["fresh"]["lpips_diversity"] > 0
    assert "## Perceptual scores" in (out / "fresh" / "report.md").read_text()


def test_report_without_weights_has_no_perceptual_scores(tmp_path: Path, tiny_real: Path) -> None:
    synthetic = write_set(tmp_path / "s", "s", [(smooth_rgb(s), ellipse_mask(s)) for s in range(10, 13)])
    assert evaluate("--real", str(tiny_real), "--synthetic", str(synthetic), "--out", str(tmp_path / "r"),
                    "--size", "32") == 0
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["perceptual"] is None
    assert "Perceptual" not in (tmp_path / "r" / "report.md").read_text()


def test_missing_lpips_weights_are_named_before_any_work(
    tmp_path: Path, tiny_real: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "alexnet-owt-7be5be79.pth"
    assert evaluate("--real", str(tiny_real), "--synthetic", str(tiny_real), "--out", str(tmp_path / "r"),
                    "--alexnet-weights", str(missing)) == 2
    assert str(missing) in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_set_names_fall_back_to_folders_then_positions() -> None:
    assert set_names(["a/plain.json", "a/styled.json"]) == ["plain", "styled"]
    assert set_names(["plain/datalist.json", "styled 1:1000/datalist.json"]) == ["plain", "styled_1_1000"]
    assert set_names(["x/datalist.json", "x/datalist.json"]) == ["0_datalist", "1_datalist"]


def test_cli_names_a_missing_datalist(tmp_path: Path, tiny_real: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.json"
    assert evaluate("--real", str(tiny_real), "--synthetic", str(missing), "--out", str(tmp_path / "r")) == 2
    assert str(missing) in capsys.readouterr().err


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"image": "absent.png", "label": "real_0_mask.png"}, "absent.png"),
        ({"image": "broken.png", "label": "real_0_mask.png"}, "broken.png"),
        ({"image": "real_0.png"}, "'label'"),
    ],
)
def test_cli_names_a_missing_or_unreadable_file(
    tmp_path: Path, tiny_real: Path, capsys: pytest.CaptureFixture[str], entry: dict[str, str], expected: str
) -> None:
    (tiny_real.parent / "broken.png").write_bytes(b"not an image at all")
    synthetic = tiny_real.parent / "synthetic.json"
    synthetic.write_text(json.dumps({"training": [entry]}))
    assert evaluate("--real", str(tiny_real), "--synthetic", str(synthetic), "--out", str(tmp_path / "r")) == 2
    assert expected in capsys.readouterr().err


@pytest.mark.skipif(not ENDOTECT.is_dir(), reason=f"endotect_dev polyp data is absent: no folder {ENDOTECT}")
def test_endotect_report_flags_flipped_and_noised_copies_only(tmp_path: Path) -> None:
    images = sorted((ENDOTECT / "images").glob("*.jpg"))[:10]
    real_pairs, others = images[:6], images[6:]
    (tmp_path / "real.json").write_text(json.dumps({"training": [endotect_entry(image) for image in real_pairs]}))
    rng = np.random.default_rng(0)
    synthetic_entries = []
    for index, image_path in enumerate(real_pairs):
        image = np.asarray(Image.open(image_path).convert("RGB").resize((160, 128))).astype(np.float64)
        mask = np.asarray(Image.open(ENDOTECT / "masks" / f"{image_path.stem}.png").resize((160, 128)))
        if index < 3:  # mirrored copies
            image, mask = image[:, ::-1], mask[:, ::-1]
        else:  # noised copies
            image = image + rng.normal(0.0, 6.0, image.shape)
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(tmp_path / f"copy_{index}.png")
        Image.fromarray(np.ascontiguousarray(mask)).save(tmp_path / f"copy_{index}_mask.png")
        synthetic_entries.append({"image": f"copy_{index}.png", "label": f"copy_{index}_mask.png"})
    synthetic_entries += [endotect_entry(image) for image in others]  # other patients: genuinely different images
    (tmp_path / "synthetic.json").write_text(json.dumps({"training": synthetic_entries}))
    out = tmp_path / "report"
    datalists = ["--real", str(tmp_path / "real.json"), "--synthetic", str(tmp_path / "synthetic.json")]
    assert evaluate(*datalists, "--out", str(out), "--size", "64") == 0
    metrics = json.loads((out / "metrics.json").read_text())
    flagged = {item["synthetic"]: item["real"] for item in metrics["memorisation"]["flagged"]}
    assert flagged == {f"copy_{index}.png": real_pairs[index].name for index in range(6)}
    assert metrics["verdict"]["safe"] is False
    assert {path.name for path in out.iterdir()} == REPORT_FILES
