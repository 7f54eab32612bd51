"""``monai-singanseg convert-reference``: a published SinGAN-Seg run folder as one of our safe checkpoints."""

from __future__ import annotations

import argparse

from monai_singanseg.data.checkpoint import save_pyramid
from monai_singanseg.data.reference_import import REFERENCE_FILES, convert_reference_run

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert-reference",
        help="convert a reference SinGAN-Seg run folder to a safe checkpoint",
        description=f"Read a reference SinGAN-Seg / SinGAN run folder ({', '.join(REFERENCE_FILES)}: pickled "
        "modules) without running pickled code, and write the pyramid as a checkpoint of tensors and plain data "
        "that 'monai-singanseg sample', 'generate' and the transforms read.",
    )
    parser.add_argument("run_dir", metavar="DIR", help="reference run folder")
    parser.add_argument("--out", required=True, help="checkpoint to write (e.g. polyp_01.pt)")
    parser.add_argument("--image-id", help="id of the training image (default: the folder's name, or its parent's "
                        "for SinGAN's scale_factor=... folders)")
    parser.add_argument("--scale-factor", type=float, help="the pyramid's actual factor between scales (default: "
                        "recovered from the scale shapes)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    model, metadata = convert_reference_run(args.run_dir, args.image_id, args.scale_factor)
    save_pyramid(model, args.out, metadata=metadata, converted_from="singan-seg-polyp reference run")
    print(f"wrote {args.out}: {model.num_trained_scales} of {model.num_scales} scales, shapes "
          f"{model.scale_shapes[0]} to {model.scale_shapes[-1]}, image id {metadata['image_id']!r}")
    return 0
