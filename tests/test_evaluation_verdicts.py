"""The report's verdicts cannot be fooled: bad images are unfaithful, copies unsafe, identical samples not diverse.

Real sets are endoscopy phantoms (five, like a small real set); "held-out real" images are phantoms of other seeds.
Seeds are fixed, so every verdict is deterministic.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import shared_data

from monai_singanseg.cli import main
from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.evaluation.fidelity import exceedance_p_value, leave_one_out_patch_test
from monai_singanseg.evaluation.loading import ImageMaskSet, load_image_mask_set
from monai_singanseg.evaluation.markdown import render_markdown
from monai_singanseg.evaluation.report import evaluate_sets
from monai_singanseg.evaluation.verdicts import ReportThresholds
from monai_singanseg.metrics.mask_statistics import compare_mask_sets, ks_exact_p_value
from monai_singanseg.metrics.sliced_wasserstein import sliced_wasserstein, sliced_wasserstein_per_query

SIZE = 32


def image_mask_set(images: torch.Tensor, masks: torch.Tensor, prefix: str) -> ImageMaskSet:
    names = [f"{prefix}_{index}.png" for index in range(len(images))]
    return ImageMaskSet(images, masks, names, [f"/data/{name}" for name in names], [None] * len(images))


def phantoms(seeds: range, prefix: str) -> ImageMaskSet:
    pairs = [endoscopy_phantom(SIZE, SIZE, seed=seed) for seed in seeds]
    images = torch.stack([torch.from_numpy(image).float() / 255 for image, _ in pairs])
    masks = torch.stack([torch.from_numpy(mask).float() / 255 for _, mask in pairs])
    return image_mask_set(images, masks, prefix)


def noise(images: torch.Tensor) -> torch.Tensor:
    return torch.rand(images.shape, generator=torch.Generator().manual_seed(0))


def blank(images: torch.Tensor) -> torch.Tensor:
    return torch.full_like(images, 0.5)


def shuffled(images: torch.Tensor) -> torch.Tensor:
    order = torch.randperm(images.shape[-2] * images.shape[-1], generator=torch.Generator().manual_seed(0))
    return images.flatten(2)[..., order].reshape(images.shape)


def inverted(images: torch.Tensor) -> torch.Tensor:
    return 1 - images


@pytest.fixture(scope="module")
def real() -> ImageMaskSet:
    return phantoms(range(5), "real")


@pytest.fixture(scope="module")
def held_out() -> ImageMaskSet:
    return phantoms(range(100, 110), "held_out")


@pytest.fixture(scope="module")
def held_out_metrics(real: ImageMaskSet, held_out: ImageMaskSet) -> dict[str, Any]:
    return evaluate_sets(real, held_out).metrics


def test_held_out_real_images_are_judged_faithful(held_out_metrics: dict[str, Any]) -> None:
    metrics = held_out_metrics
    assert metrics["verdict"]["faithful"] is True
    assert metrics["verdict"]["faithful_images"] is True and metrics["verdict"]["faithful_masks"] is True
    assert metrics["fidelity"]["patch_test"]["p_value"] > 0.2  # far from the 0.025 level, not a lucky pass


@pytest.mark.parametrize("corrupt", [noise, blank, shuffled, inverted], ids=lambda corrupt: corrupt.__name__)
def test_noise_blank_shuffled_and_inverted_images_are_judged_unfaithful(
    real: ImageMaskSet, held_out: ImageMaskSet, corrupt: Callable[[torch.Tensor], torch.Tensor]
) -> None:
    # Real masks, so only the images can give the set away.
    bad = image_mask_set(corrupt(held_out.images), held_out.masks, "bad")
    metrics = evaluate_sets(real, bad).metrics
    assert metrics["verdict"]["faithful"] is False and metrics["verdict"]["faithful_images"] is False
    assert metrics["verdict"]["faithful_masks"] is True
    test = metrics["fidelity"]["patch_test"]
    assert test["num_beyond"] == len(held_out.names)
    assert test["p_value"] == pytest.approx(1 / math.comb(len(real.names) + len(held_out.names), len(real.names)))


@pytest.mark.parametrize("corrupt", [noise, blank], ids=lambda corrupt: corrupt.__name__)
def test_a_set_half_of_noise_or_blank_images_is_not_called_faithful(
    real: ImageMaskSet, held_out: ImageMaskSet, corrupt: Callable[[torch.Tensor], torch.Tensor]
) -> None:
    # 10 good and 10 bad images against 5 real ones: p about 0.06, so the patch test alone cannot reject the set.
    images = torch.cat([held_out.images, corrupt(held_out.images)])
    metrics = evaluate_sets(real, image_mask_set(images, held_out.masks.repeat(2, 1, 1, 1), "half")).metrics
    test = metrics["fidelity"]["patch_test"]
    assert test["p_value"] >= metrics["fidelity"]["test_level"] and test["num_beyond"] >= 10
    assert test["foreign_share"] > 0.2
    assert metrics["verdict"]["faithful_images"] is None and metrics["verdict"]["faithful"] is None
    assert [item["synthetic"] for item in test["farthest_beyond"]][:10] != []
    assert {f"half_{index}.png" for index in range(10, 20)} <= {item["synthetic"] for item in test["farthest_beyond"]}
    text = render_markdown({**metrics, "inputs": {}}, [])
    assert "| - images | cannot tell |" in text and "more than chance explains" in text
    assert "looks faithful" not in text


def test_noise_is_not_called_diverse(real: ImageMaskSet, held_out: ImageMaskSet) -> None:
    metrics = evaluate_sets(real, image_mask_set(noise(held_out.images), held_out.masks, "noise")).metrics
    assert metrics["diversity"]["singan_diversity"] > 0.2  # noise differs from itself
    assert metrics["verdict"]["faithful_images"] is False and metrics["verdict"]["diverse"] is None
    assert "Diversity is not judged" in render_markdown({**metrics, "inputs": {}}, [])


@pytest.mark.parametrize("field", ["images", "masks"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_or_inf_in_a_set_is_refused_not_passed(
    real: ImageMaskSet, held_out: ImageMaskSet, field: str, value: float
) -> None:
    # A NaN fails every comparison, so it would pass every threshold: copies with one NaN pixel looked safe.
    images, masks = real.images.clone(), real.masks.clone()
    {"images": images, "masks": masks}[field][3, 0, 5, 5] = value
    with pytest.raises(ValueError, match=f"synthetic {field} hold NaN or Inf values \\(copy_3.png"):
        evaluate_sets(real, image_mask_set(images, masks, "copy"))


@pytest.mark.parametrize("cast", [lambda x: x[:, [2, 1, 0]], lambda x: 0.6 * x], ids=["red-blue swapped", "darker"])
def test_colour_casts_lie_far_beyond_the_real_spread(
    real: ImageMaskSet, held_out: ImageMaskSet, cast: Callable[[torch.Tensor], torch.Tensor]
) -> None:
    # Patches are standardised by the real pool, not by their own set, so a global colour change counts.
    test = leave_one_out_patch_test(real.images, cast(held_out.images))
    assert float(test.synthetic_distances.min()) > 2 * test.bound


def test_masks_of_other_sizes_are_judged_unfaithful(real: ImageMaskSet, held_out: ImageMaskSet) -> None:
    grown = torch.nn.functional.max_pool2d(held_out.masks, 9, stride=1, padding=4)
    metrics = evaluate_sets(real, image_mask_set(held_out.images, grown, "grown")).metrics
    assert metrics["verdict"]["faithful_images"] is True
    assert metrics["verdict"]["faithful_masks"] is False and metrics["verdict"]["faithful"] is False
    assert metrics["fidelity"]["masks"]["ks_p_value"] < 0.025


def _speckled(masks: torch.Tensor) -> torch.Tensor:
    # About each mask's foreground share, scattered as single pixels: the right area, in dozens of pieces.
    generator = torch.Generator().manual_seed(0)
    share = masks.flatten(1).mean(dim=1).view(-1, 1, 1, 1)
    return (torch.rand(masks.shape, generator=generator) < share).float()


def test_speckled_masks_of_the_right_area_are_judged_unfaithful(real: ImageMaskSet, held_out: ImageMaskSet) -> None:
    metrics = evaluate_sets(real, image_mask_set(held_out.images, _speckled(held_out.masks), "speckled")).metrics
    masks = metrics["fidelity"]["masks"]
    assert masks["synthetic_components_mean"] > 10 * masks["real_components_mean"]
    assert masks["components_ks_p_value"] < metrics["fidelity"]["mask_test_level"]
    assert metrics["verdict"]["faithful_masks"] is False and metrics["verdict"]["faithful"] is False


def test_a_set_of_many_empty_masks_is_not_called_faithful(real: ImageMaskSet, held_out: ImageMaskSet) -> None:
    masks = held_out.masks.clone()
    masks[:4] = 0  # 40 % empty against none of the real masks
    metrics = evaluate_sets(real, image_mask_set(held_out.images, masks, "empty")).metrics
    assert metrics["fidelity"]["masks"]["synthetic_empty_fraction"] == pytest.approx(0.4)
    assert metrics["verdict"]["faithful_masks"] is not True and metrics["verdict"]["faithful"] is not True
    assert "40% of the synthetic masks are empty against 0% of the real ones" in render_markdown(
        {**metrics, "inputs": {}}, [])


@pytest.mark.parametrize("flip", [(), (-1,), (-2,)], ids=["as is", "mirrored", "upside down"])
def test_copies_of_real_images_are_not_safe_to_share(
    real: ImageMaskSet, held_out: ImageMaskSet, flip: tuple[int, ...]
) -> None:
    copies = real.images[:2].flip(flip) if flip else real.images[:2]
    images = torch.cat([copies, held_out.images[:4]])
    synthetic = image_mask_set(images, torch.cat([real.masks[:2], held_out.masks[:4]]), "leaky")
    metrics = evaluate_sets(real, synthetic).metrics
    assert [(item["synthetic"], item["real"]) for item in metrics["memorisation"]["flagged"]] == [
        ("leaky_0.png", "real_0.png"), ("leaky_1.png", "real_1.png")
    ]
    assert metrics["verdict"]["safe"] is False


@pytest.mark.parametrize("rows, columns", [(5, 0), (0, -7), (6, 6)])
def test_copies_moved_by_a_good_part_of_the_image_are_not_safe(
    real: ImageMaskSet, held_out: ImageMaskSet, rows: int, columns: int
) -> None:
    # Moved, not rolled: the uncovered edge repeats the border, as a crop-and-pad of the real image would.
    moved = real.images[:2].roll((rows, columns), dims=(-2, -1))
    if rows:
        moved[..., :rows, :] = moved[..., rows : rows + 1, :]
    if columns < 0:
        moved[..., columns:] = moved[..., columns - 1 : columns]
    synthetic = image_mask_set(torch.cat([moved, held_out.images[:4]]), torch.cat([real.masks[:2], held_out.masks[:4]]),
                               "moved")
    metrics = evaluate_sets(real, synthetic).metrics
    assert metrics["memorisation"]["max_shift"] == SIZE // 4
    assert [item["synthetic"] for item in metrics["memorisation"]["flagged"]] == ["moved_0.png", "moved_1.png"]
    assert metrics["verdict"]["safe"] is False


def test_held_out_images_are_safe_to_share(held_out_metrics: dict[str, Any]) -> None:
    metrics = held_out_metrics
    assert metrics["verdict"]["safe"] is True and metrics["memorisation"]["num_flagged"] == 0


def test_identical_samples_are_not_diverse(real: ImageMaskSet, held_out: ImageMaskSet) -> None:
    images, masks = held_out.images[:1].expand(6, -1, -1, -1), held_out.masks[:1].expand(6, -1, -1, -1)
    metrics = evaluate_sets(real, image_mask_set(images, masks, "same")).metrics
    assert metrics["diversity"]["singan_diversity"] == 0.0 and metrics["verdict"]["diverse"] is False


def test_varied_samples_of_one_image_are_diverse(real: ImageMaskSet) -> None:
    # Circular shifts of the training image: its own patches, so faithful, and different pictures.
    varied = torch.cat([real.images[:1].roll((5 * step, 3 * step), dims=(-2, -1)) for step in range(6)])
    synthetic = ImageMaskSet(varied, real.masks[:1].expand(6, -1, -1, -1), [f"v{i}" for i in range(6)],
                             [f"/v{i}" for i in range(6)], [real.paths[0]] * 6)
    metrics = evaluate_sets(real, synthetic).metrics
    assert metrics["verdict"]["faithful_images"] is not False
    assert metrics["diversity"]["grouping"] == "source_image" and metrics["verdict"]["diverse"] is True


def test_one_real_image_cannot_judge_the_images(held_out: ImageMaskSet) -> None:
    single = image_mask_set(held_out.images[:1], held_out.masks[:1], "only")
    metrics = evaluate_sets(single, image_mask_set(noise(held_out.images), held_out.masks, "noise")).metrics
    assert metrics["fidelity"]["patch_test"] is None
    assert metrics["verdict"]["faithful_images"] is None and metrics["verdict"]["faithful"] is None
    assert "| - images | cannot tell |" in render_markdown({**metrics, "inputs": {}}, [])


def test_sizes_too_small_to_reach_the_level_cannot_tell(real: ImageMaskSet, held_out: ImageMaskSet) -> None:
    # Two real and three synthetic images: even all three beyond gives p = 1 / C(5, 2) = 0.1 > 0.025.
    two = image_mask_set(real.images[:2], real.masks[:2], "two")
    metrics = evaluate_sets(two, image_mask_set(noise(held_out.images[:3]), held_out.masks[:3], "noise")).metrics
    assert metrics["fidelity"]["patch_test"]["smallest_p_value"] == pytest.approx(0.1)
    assert metrics["verdict"]["faithful_images"] is None


def test_report_states_each_fidelity_rule_with_its_numbers(real: ImageMaskSet, held_out: ImageMaskSet) -> None:
    metrics = evaluate_sets(real, image_mask_set(inverted(held_out.images), held_out.masks, "inverted")).metrics
    text = render_markdown({**metrics, "inputs": {"real": "r.json", "synthetic": "s.json"}}, [])
    test = metrics["fidelity"]["patch_test"]
    assert "| Faithful? | no |" in text and "| - images | no |" in text and "| - masks | yes |" in text
    assert f"10 of 10 synthetic images beyond {test['bound']:.0f}" in text
    assert "p at least 0.025" in text and "exact two-sample Kolmogorov-Smirnov" in text
    assert "do not look faithful: too many lie farther" in text


def test_exceedance_p_value_is_the_exact_law_of_exchangeable_values() -> None:
    # Every placement of 2 real among 5 exchangeable values is equally likely: count how many put k synthetic on top.
    num_real, num_synthetic = 2, 3
    placements = list(itertools.combinations(range(num_real + num_synthetic), num_real))  # ranks of the real values
    for k in range(num_synthetic + 1):
        beyond = [sum(rank > max(ranks) for rank in range(5) if rank not in ranks) for ranks in placements]
        expected = sum(count >= k for count in beyond) / len(placements)
        assert exceedance_p_value(num_real, num_synthetic, k) == pytest.approx(expected)


@pytest.mark.parametrize(("arguments", "name"), [((0, 3, 0), "num_real"), ((3, 3, 4), "num_beyond")])
def test_exceedance_p_value_names_a_bad_argument(arguments: tuple[int, int, int], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        exceedance_p_value(*arguments)


def test_leave_one_out_test_needs_two_real_images() -> None:
    with pytest.raises(ValueError, match="real"):
        leave_one_out_patch_test(torch.rand(1, 3, 32, 32), torch.rand(2, 3, 32, 32))


@pytest.mark.parametrize(
    "field, value",
    [("fidelity_alpha", 1.5), ("copy_ncc", 95), ("copy_ncc", 0), ("max_foreign_share", 1.0), ("min_diversity", -1),
     ("max_shift", -1)],
)
def test_report_thresholds_reject_values_outside_their_range(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        ReportThresholds(**{field: value})


def test_cli_names_a_fidelity_alpha_outside_zero_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    datalist = tmp_path / "set.json"
    datalist.write_text(json.dumps({"training": []}))
    arguments = ["--real", str(datalist), "--synthetic", str(datalist), "--out", str(tmp_path / "r")]
    assert main(["evaluate", *arguments, "--fidelity-alpha", "0", "--no-progress"]) == 2
    assert "--fidelity-alpha" in capsys.readouterr().err


def test_per_query_distance_is_sliced_wasserstein_for_equal_sizes() -> None:
    reference, queries = torch.rand(40, 6), torch.rand(3, 40, 6)
    generator = torch.Generator().manual_seed(0)
    directions = torch.cat([torch.randn(6, 8, generator=generator) for _ in range(2)], dim=1)
    directions = directions / directions.norm(dim=0, keepdim=True)
    per_query = sliced_wasserstein_per_query(reference, queries, directions)
    expected = [float(sliced_wasserstein(reference, q, 2, 8, torch.Generator().manual_seed(0))) for q in queries]
    assert per_query.tolist() == pytest.approx(expected, rel=1e-5)


def test_mask_test_is_exact_at_three_real_masks() -> None:
    real, synthetic = torch.zeros(3, 1, 4, 4), torch.ones(10, 1, 4, 4)
    comparison = compare_mask_sets(real, synthetic)
    # Disjoint fractions: both orders of the 13 values that separate them, over C(13, 3) equally likely splits.
    assert comparison.ks_p_value == pytest.approx(2 / math.comb(13, 3))
    assert comparison.ks_smallest_p_value == comparison.ks_p_value
    assert ks_exact_p_value(torch.tensor([0.1, 0.2]), torch.tensor([0.1, 0.2])) == 1.0


@pytest.fixture(scope="module")
def endotect_sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[ImageMaskSet, ImageMaskSet]:
    """Three real endotect_dev pairs and ten others (other patients) as held-out real images, at 64 px."""
    endotect = shared_data("polyp", "endotect_dev")
    paths = sorted((endotect / "images").glob("*.jpg"))
    folder = tmp_path_factory.mktemp("endotect")
    loaded = []
    for name, chosen in (("real", paths[:3]), ("held_out", paths[50:60])):
        entries = [{"image": str(p), "label": str(endotect / "masks" / f"{p.stem}.png")} for p in chosen]
        (folder / f"{name}.json").write_text(json.dumps({"training": entries}))
        loaded.append(load_image_mask_set(folder / f"{name}.json", 64, progress=False))
    return loaded[0], loaded[1]


@pytest.mark.parametrize("corrupt", [None, noise, blank, shuffled, inverted],
                         ids=["held-out", "noise", "blank", "shuffled", "inverted"])
def test_endotect_held_out_images_pass_and_corrupted_ones_fail(
    endotect_sets: tuple[ImageMaskSet, ImageMaskSet], corrupt: Callable[[torch.Tensor], torch.Tensor] | None
) -> None:
    real, held_out = endotect_sets
    images = held_out.images if corrupt is None else corrupt(held_out.images)
    verdict = evaluate_sets(real, image_mask_set(images, held_out.masks, "synthetic")).metrics["verdict"]
    assert verdict["faithful_masks"] is True
    assert verdict["faithful_images"] is (corrupt is None) and verdict["faithful"] is (corrupt is None)
