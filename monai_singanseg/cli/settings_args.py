"""Command-line flags that mirror :class:`SinGANSegSettings`, one per field, with the field's help text.

The valid ranges are not repeated here: :func:`monai_singanseg.settings.validate_settings` owns them and names the
flags in its messages.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields
from typing import Any

from monai_singanseg.settings import (
    RECIPES,
    Recipe,
    SinGANSegSettings,
    available_device,
    setting_flag,
    validate_settings,
)

__all__ = ["add_settings_arguments", "settings_from_arguments"]


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--iterations``, ``--max-size``, ... to ``parser``; defaults are the reference's."""
    group = parser.add_argument_group("training settings (defaults reproduce the reference)")
    group.add_argument("--recipe", choices=[str(r) for r in Recipe], default=None,
                       help="a named set of the settings below: faithful (the reference, default), fast (one critic step: "
                       "about half the work, nearly the same sample quality) or draft (a tenth of the reference's work, "
                       "with concurrent training of three scales and widths capped at 48; samples a little further from the image); measured in BENCHMARKS.md; flags given still override it")
    for field in fields(SinGANSegSettings):
        default = field.default if field.default is not MISSING else None
        help_text = f"{field.metadata.get('help', '')} (default: {default})"
        if isinstance(default, bool):
            group.add_argument(setting_flag(field.name), dest=field.name, default=None,
                               action=argparse.BooleanOptionalAction, help=help_text)
        else:
            group.add_argument(setting_flag(field.name), dest=field.name, type=type(default), default=None,
                               metavar=field.name.upper(), help=help_text)


def settings_from_arguments(args: argparse.Namespace, **overrides: Any) -> SinGANSegSettings:
    """Settings from parsed flags; flags not given keep the ``--recipe``'s values, ``overrides`` or the defaults.

    Raises:
        ValueError: a value out of its range (the message names the flag and the valid range), or a ``--device``
            this machine cannot train on.
    """
    values = dict(overrides)
    recipe = getattr(args, "recipe", None)
    if recipe is not None:
        values.update(RECIPES[Recipe(recipe)])
    for field in fields(SinGANSegSettings):
        given = getattr(args, field.name, None)
        if given is not None:
            values[field.name] = given
    defaults = {field.name: field.default for field in fields(SinGANSegSettings)}
    validate_settings({**defaults, **values}, as_flags=True)
    settings = SinGANSegSettings(**values)
    # These flags train here: a device this machine lacks is refused now, in the flag's words, not at the first scale.
    available_device(settings.device, argument="--device")
    return settings
