"""``monai-singanseg demo``: the whole job on a built-in phantom, in a few minutes on a laptop CPU."""

from __future__ import annotations

import argparse

from monai_singanseg.data.output_path import check_output_folder
from monai_singanseg.data.phantom import endoscopy_phantom
from monai_singanseg.data.sample_writer import sample_to_folder
from monai_singanseg.data.writers import to_uint8_rgb, write_png
from monai_singanseg.engines.train import train_singanseg
from monai_singanseg.settings import Recipe, SinGANSegSettings, available_device, validate_settings

__all__ = ["DEMO_ITERATIONS", "DEMO_RECIPE", "add_parser", "demo_settings", "run"]

# Iterations per scale that cost each recipe the same work on the demo's phantom (about 2,270 GFLOP, counted by
# benchmarks/bench_quality.py --count-only). For that work, fast's samples were the closest to the phantom (patch SWD
# 95-105 against faithful's 113-116 on three phantoms, two seeds each) with as many non-empty masks; draft's were no
# better than faithful's (BENCHMARKS.md, "The demo's recipe").
DEMO_ITERATIONS = {Recipe.FAITHFUL: 150, Recipe.FAST: 330, Recipe.DRAFT: 250}
DEMO_RECIPE = Recipe.FAST


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train a small pyramid on a built-in endoscopy phantom and sample it",
        description="Build an endoscopy-like phantom (RGB + lesion mask) in code, train a small pyramid on it "
        "(a few minutes on 2 CPU cores) and write samples plus grid.png. No data or download needed.",
    )
    parser.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    parser.add_argument("--recipe", choices=[str(r) for r in Recipe], default=DEMO_RECIPE,
                        help=f"training recipe (default: {DEMO_RECIPE}); each recipe's default iterations cost the "
                        "same work, so the demo takes about as long with any of them")
    parser.add_argument("--iterations", type=int, default=None,
                        help="iterations at every scale (default: " + ", ".join(
                            f"{it} for {recipe}" for recipe, it in DEMO_ITERATIONS.items()) + ")")
    parser.add_argument("--num-samples", type=int, default=8, help="samples to draw (default: 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of phantom, training and sampling")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.set_defaults(run=run)


def demo_settings(recipe: str, iterations: int | None, seed: int, device: str) -> SinGANSegSettings:
    """The recipe's settings, shrunk so the demo fits a laptop CPU: 4 scales of 26x32 to 45x56, all 32 wide (a fifth
    scale would double the width and cost most of the time), the same ``iterations`` at every scale."""
    if iterations is not None:
        validate_settings({"iterations": iterations}, as_flags=True)  # names --iterations, as the user typed it
    return SinGANSegSettings.from_recipe(
        recipe, min_size=25, max_size=56, finest_iterations=0, seed=seed, device=device,
        iterations=DEMO_ITERATIONS[Recipe(recipe)] if iterations is None else iterations)


def run(args: argparse.Namespace) -> int:
    out = check_output_folder(args.out, "--out")
    settings = demo_settings(args.recipe, args.iterations, args.seed, args.device)
    available_device(args.device, "--device")
    if args.num_samples < 1:
        raise ValueError(f"--num-samples must be >= 1, got {args.num_samples}.")
    image, mask = endoscopy_phantom(64, 80, seed=args.seed)
    write_png(to_uint8_rgb(image), out / "phantom_image.png")
    write_png(mask[0], out / "phantom_label.png")
    metadata = {"source": str(out / "phantom_image.png"), "image_id": "phantom", "file_format": "png"}
    model_path = out / "phantom_pyramid.pt"
    model = train_singanseg(image, mask, settings, checkpoint=model_path, metadata=metadata, progress=True)
    # The demo owns its folder: a rerun with other flags replaces its earlier samples.
    sample_to_folder(model_path, out / "samples", num_samples=args.num_samples, seed=args.seed, overwrite=True)
    shapes = " -> ".join("x".join(map(str, s)) for s in model.scale_shapes)
    print(f"{args.recipe} pyramid of {model.num_scales} scales ({shapes}) written to {model_path}")
    print(f"{args.num_samples} synthetic pairs and grid.png written to {out / 'samples'}")
    return 0
