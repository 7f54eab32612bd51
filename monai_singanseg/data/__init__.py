"""Reading, writing and checkpointing: everything that touches files."""

from monai_singanseg.data.bank import MissingPyramidError, SinGANSegBank, image_id_of
from monai_singanseg.data.checkpoint import CheckpointError, load_pyramid, read_checkpoint, save_pyramid
from monai_singanseg.data.fleet import FleetItem, FleetPlan, list_training_items, plan_fleet
from monai_singanseg.data.io import FileFormat, load_image, load_training_pair
from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.data.reference_import import ReferenceImportError, convert_reference_run
from monai_singanseg.data.sample_writer import sample_to_folder
from monai_singanseg.data.synthetic_dataset import GenerationSummary, generate_dataset
from monai_singanseg.data.writers import write_pair

__all__ = ["CheckpointError", "FileFormat", "FleetItem", "FleetPlan", "GenerationSummary", "MissingPyramidError", "ReferenceImportError",
           "SinGANSegBank", "convert_reference_run", "endoscopy_phantom", "generate_dataset", "image_id_of", "load_image",
           "list_training_items", "load_pyramid", "load_training_pair", "plan_fleet", "read_checkpoint", "sample_to_folder", "save_pyramid", "write_pair"]
