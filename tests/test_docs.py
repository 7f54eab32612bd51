"""The repository explains itself: the facts its code and documents cite live in docs/, and the links to them hold."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Spelled in two parts so this file does not mention it.
OUTSIDE_NOTES = "REFERENCE" + ".md"
TEXT_SUFFIXES = {".py", ".md", ".json", ".cfg", ".toml", ".txt", ".ipynb", ".yaml", ".yml", ".conf", ".sh", ""}
SKIPPED_FOLDERS = {".git", ".venv", "venv", "build", "dist", "__pycache__", "tutorial_outputs", "outputs"}
DOCUMENTS = ["README.md", "BENCHMARKS.md", "benchmarks/README.md", "tutorials/README.md",
             "bundles/endoscopy_polyp_singanseg/docs/README.md", "bundles/brats_mri_slices_singanseg/docs/README.md"]


def _repository_files() -> list[Path]:
    """The files git tracks or would track (untracked but not ignored); without git, a walk that skips the usual
    build and environment folders."""
    if shutil.which("git") and (ROOT / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                                capture_output=True, check=True).stdout.decode().split("\0")
        return [ROOT / name for name in listed if name and (ROOT / name).is_file()]
    return [p for p in ROOT.rglob("*") if p.is_file() and not SKIPPED_FOLDERS & set(p.relative_to(ROOT).parts)
            and not any(part.endswith(".egg-info") for part in p.parts)]


def test_no_file_points_at_notes_outside_the_repository() -> None:
    files = [p for p in _repository_files() if p.suffix in TEXT_SUFFIXES]
    assert any(p.name == "settings.py" for p in files) and any(p.name == "README.md" for p in files)
    mentions = [f"{p.relative_to(ROOT)}:{number}" for p in files
                for number, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
                if OUTSIDE_NOTES in line]
    assert mentions == [], f"point these at docs/reference_algorithm.md instead: {mentions}"


def _cited_paths(document: Path) -> list[str]:
    """Relative targets of the document's Markdown links, and the docs/... paths it names in text or code spans."""
    text = document.read_text(encoding="utf-8")
    links = [target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+)\)", text)]
    named = re.findall(r"(?<![\w/.])(docs/[\w./-]*\w)", text)
    return [t for t in links + named if t and not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_relative_link_and_docs_path_in_a_document_exists(name: str) -> None:
    document = ROOT / name
    cited = _cited_paths(document)
    missing = [t for t in cited if not (document.parent / t).exists() and not (ROOT / t).exists()]
    assert missing == [], f"{name} cites files that do not exist: {missing}"


def test_the_reference_notes_cite_the_paper_and_the_reference_package() -> None:
    text = (ROOT / "docs" / "reference_algorithm.md").read_text(encoding="utf-8")
    for fact in ("singan-seg-polyp` 1.0.7", "PLoS ONE", "332x487", "26x37", "171x250", "1600 of 2000"):
        assert fact in text
    assert "docs/reference_algorithm.md" in (ROOT / "README.md").read_text(encoding="utf-8")
