"""``monai-singanseg train``: one pyramid from one image and its label map."""

from __future__ import annotations

import argparse

from monai_singanseg.cli.label_args import add_label_arguments
from monai_singanseg.cli.settings_args import add_settings_arguments, settings_from_arguments
from monai_singanseg.data.io import image_id_of, load_training_pair
from monai_singanseg.engines.train import train_singanseg

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a pyramid on one image and its label map",
        description="Train a SinGAN-Seg pyramid on one image stacked with its label map. A checkpoint is written "
        "after every scale; running the same command again resumes after the last finished scale.",
    )
    parser.add_argument("--image", required=True, help="image file: PNG/JPEG photo, NIfTI, or a DICOM series folder; "
                        "an RGBA PNG carries its mask in alpha (then omit --label)")
    parser.add_argument("--label", help="label file (mask or label map) with the image's spatial shape")
    parser.add_argument("--out", required=True, help="checkpoint file to write, e.g. polyp.pt")
    add_label_arguments(parser)
    parser.add_argument("--tensorboard", help="write the losses for TensorBoard into this folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_settings_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_arguments(args)
    image, label, info = load_training_pair(args.image, args.label, args.label_threshold,
                                           label_values=args.label_values)
    info["image_id"] = image_id_of(args.image)
    train_singanseg(
        image, label, settings, label_values=args.label_values, checkpoint=args.out, metadata=info,
        progress=not args.quiet, tensorboard_dir=args.tensorboard,
    )
    print(f"trained pyramid written to {args.out}")
    return 0
