"""DICOM for the MRI app: check that a folder holds one series and read its grid from the headers, and write
volumes or synthetic slices as MR Image Storage series marked as derived, synthetic and free of patient identifiers.

Geometry follows MONAI's ``ITKReader`` (array axes ``(column, row, slice)``, affine in RAS), so a series written by
:func:`write_dicom_series` loads with ``monai.transforms.LoadImage`` back onto the grid it was written from.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monai_singanseg.data.writers import write_atomically

__all__ = ["DicomSeries", "SYNTHETIC_IMAGE_TYPE", "read_series_headers", "write_dicom_series"]

# ImageType (0008,0008): value 1 DERIVED (not acquired), value 2 SECONDARY, then what kind of derivation.
SYNTHETIC_IMAGE_TYPE = ("DERIVED", "SECONDARY", "SYNTHETIC")

# DICOM is LPS, MONAI's affines are RAS: the two differ by a flip of the first two world axes.
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

# Stored integers of float data span 0..4095 (12 bits, what most MR viewers expect), with a rescale slope.
_STORED_MAX = 4095


@dataclass(frozen=True)
class DicomSeries:
    """One DICOM series read from its headers.

    Attributes:
        folder: the series folder.
        files: the instance files, sorted along the slice normal.
        shape: the array shape MONAI's ``ITKReader`` gives: ``(columns, rows, slices)``.
        affine: the 4x4 RAS affine MONAI's readers give.
        series_description: the SeriesDescription, or "".
    """

    folder: Path
    files: tuple[Path, ...]
    shape: tuple[int, int, int]
    affine: np.ndarray
    series_description: str


def _pydicom() -> Any:
    try:
        import pydicom
    except ImportError as err:  # an optional dependency: name the extra that installs it
        raise ImportError("DICOM needs pydicom: pip install 'monai-singanseg[dicom]'.") from err
    return pydicom


def _listing(paths: Sequence[Path], limit: int = 3) -> str:
    shown = ", ".join(p.name for p in paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def read_series_headers(folder: str | os.PathLike) -> DicomSeries:
    """Read the headers of the DICOM series in ``folder`` (pixel data is not read) and its grid.

    Args:
        folder: a folder holding the instances of exactly one series (hidden files are ignored).

    Returns:
        The series, its files sorted along the slice normal, its shape and RAS affine.

    Raises:
        FileNotFoundError: ``folder`` is not a folder or holds no file.
        ValueError: a file is not DICOM, the folder mixes several series (each is named with some of its files),
            or the instances lack the geometry tags or have different orientations or sizes.
    """
    pydicom = _pydicom()
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"DICOM series folder {folder} does not exist.")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not paths:
        raise FileNotFoundError(f"DICOM series folder {folder} holds no file.")
    series: dict[str, list[tuple[Path, Any]]] = {}
    for path in paths:
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except pydicom.errors.InvalidDicomError:
            raise ValueError(f"{path} in DICOM series folder {folder} is not a DICOM file.") from None
        series.setdefault(str(header.get("SeriesInstanceUID", "")), []).append((path, header))
    if len(series) > 1:
        parts = [f"{uid or '(no SeriesInstanceUID)'} '{members[0][1].get('SeriesDescription', '')}' "
                 f"({_listing([p for p, _ in members])})" for uid, members in series.items()]
        raise ValueError(f"DICOM folder {folder} mixes {len(series)} series: " + "; ".join(parts)
                         + ". Put each series in a folder of its own.")
    members = next(iter(series.values()))
    try:
        orientation = np.array([float(v) for v in members[0][1].ImageOrientationPatient]).reshape(2, 3)
        row_spacing, column_spacing = (float(v) for v in members[0][1].PixelSpacing)
        rows, columns = int(members[0][1].Rows), int(members[0][1].Columns)
        positions = [np.array([float(v) for v in h.ImagePositionPatient]) for _, h in members]
    except AttributeError as err:
        raise ValueError(f"DICOM series in {folder} lacks a geometry tag ({err}); it cannot be placed in space.") from None
    for path, header in members[1:]:
        if (not np.allclose([float(v) for v in header.ImageOrientationPatient], orientation.ravel(), atol=1e-4)
                or (int(header.Rows), int(header.Columns)) != (rows, columns)):
            raise ValueError(f"{path} has another orientation or size than {members[0][0]} in series folder {folder}.")
    normal = np.cross(orientation[0], orientation[1])
    order = np.argsort([float(p @ normal) for p in positions], kind="stable")
    files = tuple(members[i][0] for i in order)
    positions = [positions[i] for i in order]
    if len(positions) > 1:
        slice_step = (positions[-1] - positions[0]) / (len(positions) - 1)
    else:
        slice_step = normal * float(members[0][1].get("SliceThickness", 1.0) or 1.0)
    lps = np.eye(4)
    lps[:3, 0] = orientation[0] * column_spacing
    lps[:3, 1] = orientation[1] * row_spacing
    lps[:3, 2] = slice_step
    lps[:3, 3] = positions[0]
    return DicomSeries(folder, files, (columns, rows, len(files)), _LPS_TO_RAS @ lps,
                       str(members[0][1].get("SeriesDescription", "")))


def _stored_values(volume: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Signed 16-bit stored values and the (slope, intercept) that give back ``volume``."""
    values = np.asarray(volume, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    integral = np.allclose(values, np.round(values)) and -32768 <= low and high <= 32767
    if integral:
        return np.round(values).astype(np.int16), 1.0, 0.0
    slope = max(high - low, 1e-12) / _STORED_MAX
    return np.round((values - low) / slope).astype(np.int16), slope, low


def _decimal(value: float) -> str:
    # DS values hold at most 16 characters.
    return f"{value:.10g}"[:16]


def write_dicom_series(
    volume: Any,
    affine: Any,
    folder: str | os.PathLike,
    series_description: str,
    study_instance_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    series_number: int = 1,
    synthetic: bool = True,
    derivation_description: str = "",
) -> list[Path]:
    """Write a volume ``(X, Y, Z)`` (or a slice ``(X, Y)``) as one MR Image Storage series, an instance per slice.

    The array axes are MONAI's ``(column, row, slice)`` and ``affine`` is RAS, as ``LoadImage`` reads them, so the
    series loads back onto the same grid. Float data is stored as 16-bit integers with a rescale slope and intercept
    (integral data as it is). The header carries no patient identifiers (empty name, ID, birth date and sex; patient
    identity removed), fresh UIDs, and, when ``synthetic``, ImageType ``DERIVED\\SECONDARY\\SYNTHETIC``, a series
    description starting with ``SYNTHETIC`` and BurnedInAnnotation ``NO``.

    Args:
        volume: the intensities, 2D or 3D.
        affine: the 4x4 RAS affine of ``volume``.
        folder: destination folder (created); files are ``IM0001.dcm``, ...
        series_description: SeriesDescription; ``SYNTHETIC`` is put in front for synthetic series.
        study_instance_uid: to put several series (sequences of one synthetic sample) in one study; fresh if None.
        frame_of_reference_uid: shared by series on one grid; fresh if None.
        series_number: SeriesNumber.
        synthetic: mark the series as synthetic.
        derivation_description: DerivationDescription (how the images were made).

    Returns:
        The written files, in slice order.

    Raises:
        ValueError: ``volume`` is not 2D or 3D, or ``affine`` is not 4x4.

    Example::

        >>> write_dicom_series(flair[0], flair.affine, "out/flair", "FLAIR sample 3")
    """
    pydicom = _pydicom()
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, PYDICOM_IMPLEMENTATION_UID, generate_uid

    array = np.asarray(volume.detach().cpu() if hasattr(volume, "detach") else volume)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ValueError(f"volume must be 2D or 3D, got shape {array.shape}.")
    affine_ras = np.asarray(affine, dtype=np.float64)
    if affine_ras.shape != (4, 4):
        raise ValueError(f"affine must be 4x4, got shape {affine_ras.shape}.")
    lps = np.linalg.inv(_LPS_TO_RAS) @ affine_ras
    column_spacing, row_spacing = float(np.linalg.norm(lps[:3, 0])), float(np.linalg.norm(lps[:3, 1]))
    slice_spacing = float(np.linalg.norm(lps[:3, 2])) or 1.0
    orientation = np.concatenate([lps[:3, 0] / column_spacing, lps[:3, 1] / row_spacing])
    stored, slope, intercept = _stored_values(array)
    description = f"SYNTHETIC {series_description}".strip() if synthetic else series_description
    study_instance_uid = study_instance_uid or generate_uid()
    frame_of_reference_uid = frame_of_reference_uid or generate_uid()
    series_instance_uid = generate_uid()
    today = datetime.date.today().strftime("%Y%m%d")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(array.shape[2]):
        file_meta = FileMetaDataset()
        file_meta.MediaStorageSOPClassUID = MRImageStorage
        file_meta.MediaStorageSOPInstanceUID = generate_uid()
        file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        path = folder / f"IM{index + 1:04d}.dcm"
        ds = FileDataset(str(path), {}, file_meta=file_meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_instance_uid, series_instance_uid
        ds.FrameOfReferenceUID = frame_of_reference_uid
        # No patient identifiers: the Type 2 patient attributes are present and empty.
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "", "", "", ""
        ds.PatientIdentityRemoved = "YES"
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = today
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = ""
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "", "", ""
        ds.Modality, ds.Manufacturer = "MR", "monai_singanseg"
        ds.SeriesDescription, ds.SeriesNumber, ds.InstanceNumber = description, series_number, index + 1
        if synthetic:
            ds.ImageType = list(SYNTHETIC_IMAGE_TYPE)
            ds.BurnedInAnnotation = "NO"
            ds.RecognizableVisualFeatures = "NO"
            ds.DeidentificationMethod = "synthetic image: no patient data"
        else:
            ds.ImageType = ["DERIVED", "SECONDARY"]
        if derivation_description:
            ds.DerivationDescription = derivation_description[:1024]
        # MR Image module, Type 1 and 2 attributes; the sequence is unknown for generated images.
        ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions, ds.MRAcquisitionType = "RM", "NONE", "", "2D"
        ds.EchoTime, ds.RepetitionTime, ds.EchoTrainLength = "", "", ""
        ds.ImagePositionPatient = [_decimal(v) for v in (lps[:3, 3] + index * lps[:3, 2])]
        ds.ImageOrientationPatient = [_decimal(v) for v in orientation]
        ds.PixelSpacing = [_decimal(row_spacing), _decimal(column_spacing)]
        ds.SliceThickness = ds.SpacingBetweenSlices = _decimal(slice_spacing)
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        # Pixel (row r, column c) is array[c, r]: MONAI's axis 0 runs along a row.
        pixels = np.ascontiguousarray(stored[:, :, index].T)
        ds.Rows, ds.Columns = pixels.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = _decimal(slope), _decimal(intercept), "US"
        low, high = float(array.min()), float(array.max())
        ds.WindowCenter, ds.WindowWidth = _decimal((low + high) / 2), _decimal(max(high - low, 1e-6))
        ds.PixelData = pixels.tobytes()
        # Whole or not at all, like every file the package writes.
        write_atomically(path, lambda f, ds=ds: pydicom.dcmwrite(f, ds, enforce_file_format=True))
        written.append(path)
    return written
