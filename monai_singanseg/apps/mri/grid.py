"""The voxel grid of a case file, read from its header: NIfTI headers, or DICOM headers without pixel data."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_singanseg.apps.mri.dicom import read_series_headers

__all__ = ["Grid"]

_AFFINE_TOLERANCE = 1e-3  # millimetres: NIfTI stores affines as float32


@dataclass(frozen=True, eq=False)
class Grid:
    """The voxel grid of one file: where it came from, its spatial shape and its RAS affine, as MONAI loads it.

    Attributes:
        path: a NIfTI file or a DICOM series folder.
        shape: the three spatial axes.
        affine: the 4x4 RAS affine.

    Example::

        >>> Grid.read("flair.nii.gz").same_grid(Grid.read("seg.nii.gz"))
        True
    """

    path: Path
    shape: tuple[int, ...]
    affine: np.ndarray

    @classmethod
    def read(cls, path: str | os.PathLike) -> Grid:
        """Read the grid of ``path`` from its header.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ValueError: ``path`` cannot be read, or a DICOM folder mixes series (see :func:`read_series_headers`).
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"case file {path} does not exist.")
        if path.is_dir():
            series = read_series_headers(path)
            return cls(path, series.shape, series.affine)
        try:
            header = nib.load(str(path))
        except Exception as err:  # nibabel raises many types; the user needs the file name and the cause
            raise ValueError(f"cannot read {path} as NIfTI: {err}") from None
        return cls(path, tuple(int(s) for s in header.shape[:3]), np.asarray(header.affine, dtype=np.float64))

    def describe(self) -> str:
        """The file with its shape, orientation code and spacing, for error messages."""
        spacing = tuple(float(s) for s in np.round(np.linalg.norm(self.affine[:3, :3], axis=0), 3))
        codes = "".join(nib.aff2axcodes(self.affine))
        return f"{self.path} (shape {self.shape}, orientation {codes}, spacing {spacing})"

    def same_grid(self, other: Grid) -> bool:
        """Same shape, and affines equal within a micrometre (orientation, spacing and origin)."""
        return self.shape == other.shape and np.allclose(self.affine, other.affine, atol=_AFFINE_TOLERANCE)
