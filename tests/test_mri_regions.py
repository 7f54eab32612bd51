"""BraTS regions (WT, TC, ET) from label maps, as MONAI defines them, and their summary from MetricsSaver files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from monai_singanseg.apps.mri import BratsRegionsd, brats_regions, is_brats_label_set, summarise_regions

# One pixel of each label value: background, necrosis, oedema, non-enhancing core, enhancing tumour.
LABELS = np.array([[0, 1, 2, 3, 4]])


def _region(regions, name):
    return regions[("TC", "WT", "ET").index(name)][0].tolist()


@pytest.mark.parametrize("as_tensor", [False, True])
def test_regions_hold_the_brats_label_values(as_tensor):
    label = torch.as_tensor(LABELS)[None] if as_tensor else LABELS[None]
    regions = brats_regions(label)
    assert tuple(regions.shape) == (3, 1, 5)
    assert _region(regions, "WT") == [False, True, True, True, True]
    assert _region(regions, "TC") == [False, True, False, True, True]
    assert _region(regions, "ET") == [False, False, False, False, True]


@pytest.mark.parametrize("label_values, brats", [
    ([0, 1, 2, 4], True), ([0, 1, 2, 3, 4], True), ([4, 2, 1, 0], True),
    ([0, 1], False), ([0, 1, 2], False), ([0, 1, 2, 4, 5], False), ([0, 255], False),
])
def test_only_brats_label_sets_have_regions(label_values, brats):
    assert is_brats_label_set(label_values) is brats


def test_class_indices_are_read_through_the_label_values():
    classes = torch.tensor([[[0, 1, 2, 3]]])  # class 3 of [0, 1, 2, 4] is enhancing tumour
    out = BratsRegionsd(["pred"], class_values=[0, 1, 2, 4])({"pred": classes})
    assert out["pred_regions"].dtype == torch.float32
    assert _region(out["pred_regions"], "ET") == [0.0, 0.0, 0.0, 1.0]
    assert _region(out["pred_regions"], "WT") == [0.0, 1.0, 1.0, 1.0]
    assert out["pred"] is classes


def test_refuses_a_label_set_without_regions():
    with pytest.raises(ValueError, match=r"class_values \[0, 1\] is not a BraTS label set"):
        BratsRegionsd(["label"], class_values=[0, 1])


def _write_details(path, rows):
    path.write_text("filename,class0,class1,class2\n" + "".join(f"{s}.nii.gz,{','.join(map(str, v))}\n"
                                                             for s, v in rows.items()))


def test_summary_orders_regions_wt_tc_et_and_keeps_a_missed_region_infinite(tmp_path):
    # MetricsSaver columns follow MONAI's channels: TC, WT, ET.
    # As MONAI writes them (test below): the distance is NaN for a region missing from either map, and the Dice
    # (ignore_empty off) 0 for a region in one map only, 1 for one in neither.
    _write_details(tmp_path / "region_dice_raw.csv", {"a": [0.5, 0.8, 0.0], "b": [0.7, 0.9, 1.0]})
    _write_details(tmp_path / "region_hd95_raw.csv", {"a": [4.0, 2.0, "nan"], "b": [6.0, 3.0, "nan"]})
    summary = summarise_regions(tmp_path, tmp_path / "brats_regions.json")
    assert list(summary["mean"]) == ["WT", "TC", "ET"]
    assert summary["mean"]["WT"] == {"dice": pytest.approx(0.85), "hd95": pytest.approx(2.5)}
    assert summary["mean"]["TC"]["dice"] == pytest.approx(0.6)
    # b has no ET in either map: no value there; a missed ET in a: Dice 0, an infinite distance, not averaged away.
    assert summary["mean"]["ET"]["dice"] == 0.0 and math.isinf(summary["mean"]["ET"]["hd95"])
    assert (tmp_path / "brats_regions.json").is_file()


@pytest.mark.parametrize("predicted, present", [(False, True), (True, False), (False, False)])
def test_monai_gives_no_distance_when_either_map_is_empty_and_dice_tells_the_cases_apart(predicted, present):
    from monai.metrics import DiceMetric, HausdorffDistanceMetric

    region = torch.zeros(1, 1, 8, 8)
    region[0, 0, 2:5, 2:5] = 1
    prediction, reference = region * predicted, region * present
    distance = HausdorffDistanceMetric(include_background=True, percentile=95)(prediction, reference)
    dice = DiceMetric(include_background=True, ignore_empty=False)(prediction, reference)
    # If MONAI starts to give inf (or a number) here, summarise_regions' reading of NaN needs another look.
    assert torch.isnan(distance).all()
    assert float(dice) == (0.0 if predicted or present else 1.0)


def test_the_summary_counts_a_region_predicted_where_there_is_none_as_missed(tmp_path):
    _write_details(tmp_path / "region_dice_raw.csv", {"a": [0.0, 0.8, 0.9], "b": [1.0, 0.9, 0.8]})
    _write_details(tmp_path / "region_hd95_raw.csv", {"a": ["nan", 2.0, 3.0], "b": ["nan", 3.0, 4.0]})
    summary = summarise_regions(tmp_path)
    # a: tumour core predicted (or missed) where one map has none; b: no core in either, left out of the mean.
    assert summary["per_subject"]["a"]["TC"] == {"dice": 0.0, "hd95": math.inf}
    assert all(math.isnan(v) for v in summary["per_subject"]["b"]["TC"].values())
    assert summary["mean"]["TC"]["dice"] == 0.0 and math.isinf(summary["mean"]["TC"]["hd95"])


BRATS_CONFIGS = Path(__file__).resolve().parents[1] / "bundles" / "brats_mri_slices_singanseg" / "configs"


def test_the_evaluate_step_scores_empty_maps_as_the_brats_challenge():
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([str(BRATS_CONFIGS / "common.json"), str(BRATS_CONFIGS / "evaluate.json")])
    parser["label_values"], parser["device"] = [0, 1, 2, 4], "$torch.device('cpu')"
    handlers = [parser.get_parsed_content("validate#key_metric#dice"),
                parser.get_parsed_content("validate#region_metrics#region_dice")]
    assert all(h.metric_fn.ignore_empty is False and h.save_details for h in handlers)
    assert [h.metric_fn.include_background for h in handlers] == [False, True]


def test_summary_names_the_missing_metric_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="region_dice_raw.csv do not exist"):
        summarise_regions(tmp_path)


def _regions(wt, tc, et):
    return {r: {"dice": d, "hd95": 1.0} for r, d in zip(("WT", "TC", "ET"), (wt, tc, et))}


def test_comparison_table_gives_each_row_as_a_share_of_the_real_row(tmp_path):
    from monai_singanseg.apps.mri.comparison import comparison_table

    for row, (wt, tc) in {"real": (0.8, 0.5), "synthetic": (0.6, 0.25)}.items():
        (tmp_path / row).mkdir()
        (tmp_path / row / "brats_regions.json").write_text(json.dumps(
            {"per_subject": {"s1": _regions(wt, tc, float("nan"))}, "mean": _regions(wt, tc, float("nan"))}))
    table = comparison_table(tmp_path, ["real", "synthetic"], {"real": 300, "synthetic": 300}, tmp_path / "t.md")
    assert "| synthetic | 300 | mean | 0.600 | 0.250 | - | 1.0 | 1.0 | 1.0 | 75% | 50% |" in table
    assert (tmp_path / "t.md").read_text() == table
    with pytest.raises(FileNotFoundError, match="evaluate the 'both' row first"):
        comparison_table(tmp_path, ["real", "both"])
    with pytest.raises(ValueError, match="rows is empty"):
        comparison_table(tmp_path, [])
