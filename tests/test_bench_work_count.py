"""The benchmarks' work counter: a model's GFLOP extrapolated from short trainings equals the work of the whole
training, lazy gradient penalty included."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from monai_singanseg.engines import SinGANSegTrainer
from monai_singanseg.utils.layout import ChannelLayout

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _common import counted_gflop, our_gflop  # noqa: E402


@pytest.mark.parametrize("interval, reconstruction_interval", [(1, 1), (4, 1), (1, 4), (2, 4)])
def test_the_extrapolated_work_is_the_work_of_the_whole_training(phantom_pair, tiny_settings, interval,
                                                                 reconstruction_interval):
    # 8 iterations: whole penalty and reconstruction periods, so the count has no fraction of either to round.
    settings = dataclasses.replace(tiny_settings, iterations=8, critic_steps=1, gradient_penalty_interval=interval,
                                   reconstruction_interval=reconstruction_interval)
    image, mask = phantom_pair
    layout = ChannelLayout.from_data(image, mask, settings.label_encoding)
    whole = counted_gflop(SinGANSegTrainer(layout.encode(image, mask), layout, settings).run)
    # Scaling the short trainings' whole work (set-up included) by iterations, as the old counter did, is more.
    assert our_gflop(image, mask, settings) == pytest.approx(whole, rel=1e-9)


def test_the_work_counter_counts_a_whole_penalty_period(phantom_pair, tiny_settings):
    image, mask = phantom_pair
    work = {k: our_gflop(image, mask, dataclasses.replace(tiny_settings, critic_steps=1, gradient_penalty_interval=k))
            for k in (1, 2, 4)}
    # Work per iteration is b + p / k, for the rest b and one penalty's p: each halving of the share is half as large.
    assert work[1] > work[2] > work[4]
    assert work[1] - work[2] == pytest.approx(2 * (work[2] - work[4]), rel=1e-6)
