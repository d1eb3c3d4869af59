"""Command-line flags generated from the config dataclasses, so every field
of ModelConfig and TrainConfig is a flag with the same name and default."""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing


def _field_type(cls, f):
    hints = typing.get_type_hints(cls)
    return hints[f.name]


def add_dataclass_flags(parser, cls, choices=None, group=None,
                        defaults=None, helps=None):
    """``--field-name`` for every field of ``cls``; defaults are None so a
    flag only overrides what the user typed (config file < flags).
    ``defaults`` (an instance of ``cls``) is what the help shows, after
    ``helps[field]`` where given."""
    choices = choices or {}
    helps = helps or {}
    defaults = defaults if defaults is not None else cls()
    target = parser.add_argument_group(group or cls.__name__)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        kind = _field_type(cls, f)
        origin = typing.get_origin(kind)
        default = getattr(defaults, f.name)
        help_text = f"default: {default!r}"
        if f.name in helps:
            help_text = f"{helps[f.name]} ({help_text})"
        if kind is bool:
            target.add_argument(flag, dest=f.name, default=None,
                                action=argparse.BooleanOptionalAction,
                                help=help_text)
        elif origin is tuple:
            target.add_argument(flag, dest=f.name, type=int, nargs="+",
                                default=None, help=help_text)
        elif origin is dict:
            target.add_argument(flag, dest=f.name, type=json_object,
                                default=None,
                                help=help_text + " (a JSON object)")
        else:
            union = origin is typing.Union or origin is types.UnionType
            base = typing.get_args(kind)[0] if union else kind
            target.add_argument(flag, dest=f.name, type=base, default=None,
                                choices=choices.get(f.name), help=help_text)


def json_object(text: str) -> dict:
    """An argparse ``type``: ``text`` parsed as a JSON object (a dict),
    else an error argparse reports as one line."""
    try:
        value = json.loads(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"not valid JSON ({err}). Received: {text!r}") from err
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            "must be a JSON object of argument names to values, e.g. "
            f"'{{\"momentum\": 0.9}}'. Received: {text!r}")
    return value


def dataclass_from_args(cls, args, base=None):
    """``cls(**base)`` with the flags the user gave on top."""
    values = dict(base or {})
    for f in dataclasses.fields(cls):
        value = getattr(args, f.name, None)
        if value is not None:
            values[f.name] = value
    return cls.from_dict(values)
