"""Shared fixtures: tiny phantom pairs, fast settings and one trained pyramid, so the suite runs in minutes on 2 CPU
cores."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.engines import train_singanseg
from monai_singanseg.networks import SinGANSeg
from monai_singanseg.settings import SinGANSegSettings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Reference settings shrunk to a 4-scale pyramid of 17x19 .. 28x32 with few iterations.
TINY_SETTINGS = SinGANSegSettings(min_size=16, max_size=32, iterations=6, base_features=8, max_features=16, seed=7)


def tiny_phantom_pair() -> tuple[np.ndarray, np.ndarray]:
    """A 28x32 RGB endoscopy phantom and its {0, 255} mask."""
    return endoscopy_phantom(28, 32, seed=3)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    # The suite's layers are too small to gain from threads, and on a shared 2-core machine two OpenMP threads
    # spin-wait on each other: one tiny training (tiny_settings) took 7-12 s on one thread, 65-110 s on two.
    torch.set_num_threads(1)


@pytest.fixture
def phantom_pair() -> tuple[np.ndarray, np.ndarray]:
    """A 28x32 RGB endoscopy phantom and its {0, 255} mask, fresh for every test."""
    return tiny_phantom_pair()


@pytest.fixture
def tiny_settings() -> SinGANSegSettings:
    """Reference settings shrunk to a 4-scale pyramid of 17x19 .. 28x32 with few iterations."""
    return TINY_SETTINGS


@dataclass(frozen=True)
class TrainedPyramid:
    """The session's one trained pyramid: the model training returned, and the checkpoint training wrote."""

    model: SinGANSeg
    path: Path
    image_id: str = "polyp_a"


@pytest.fixture(scope="session")
def shared_pyramid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainedPyramid]:
    """The pyramid ``train_singanseg(phantom_pair, tiny_settings)`` trains, once per session, for the tests that only
    read a trained model. Module-scoped fixtures may save ``model`` elsewhere; tests use :func:`trained_pyramid`
    (a copy of their own) and :func:`trained_pyramid_file`."""
    path = tmp_path_factory.mktemp("trained_pyramid") / "polyp_a.pt"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as every test runs (_one_thread), so a test's own training can match it exactly
    try:
        model = train_singanseg(*tiny_phantom_pair(), TINY_SETTINGS, checkpoint=path,
                                metadata={"image_id": "polyp_a", "file_format": "png"})
    finally:
        torch.set_num_threads(threads)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    yield TrainedPyramid(model, path)
    # Shared by many tests: one that changed it instead of its own copy would have changed what the others saw.
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"a test changed the shared checkpoint {path}"


@pytest.fixture
def trained_pyramid(shared_pyramid: TrainedPyramid) -> SinGANSeg:
    """The pyramid that ``train_singanseg(phantom_pair, tiny_settings)`` returns, trained once per session.

    Each test gets its own copy, so it may change it.
    """
    return copy.deepcopy(shared_pyramid.model)


@pytest.fixture
def trained_pyramid_file(shared_pyramid: TrainedPyramid) -> Path:
    """The checkpoint that training :func:`trained_pyramid` wrote (metadata ``image_id="polyp_a"``,
    ``file_format="png"``), shared by the whole session: read it, or copy it before changing it."""
    return shared_pyramid.path


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (real data lives in ../shared/data beside the project root)")
    return path
