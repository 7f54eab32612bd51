"""Applications built on monai_singanseg, one sub-package per bundle (as ``monai.apps`` holds task-specific code)."""
