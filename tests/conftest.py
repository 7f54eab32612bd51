"""Shared fixtures: tiny phantom pairs and fast settings, so the suite runs in minutes on 2 CPU cores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.settings import SinGANSegSettings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture
def phantom_pair() -> tuple[np.ndarray, np.ndarray]:
    """A 28x32 RGB endoscopy phantom and its {0, 255} mask."""
    return endoscopy_phantom(28, 32, seed=3)


@pytest.fixture
def tiny_settings() -> SinGANSegSettings:
    """Reference settings shrunk to a 4-scale pyramid of 17x19 .. 28x32 with few iterations."""
    return SinGANSegSettings(min_size=16, max_size=32, iterations=6, base_features=8, max_features=16, seed=7)


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (real data lives in ../shared/data beside the project root)")
    return path
