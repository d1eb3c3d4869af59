"""Configuration files read into typed dataclasses, checked on the way.

A JSON or YAML file of sections (``model:``, ``train:``), each a mapping of
one dataclass's fields: :func:`load_config_file` reads it, and
:func:`check_fields` checks every key and value against the dataclass's
own type hints, so a misspelt key or a quoted number fails in one line
that names it, before anything is built. :func:`dataclass_from_dict`
builds the dataclass after the check (``ModelConfig.from_dict``,
``TrainConfig.from_dict``).

This module is the bottom of the house: it imports nothing from tfnn;
PyYAML only when a YAML file is read (an optional dependency).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from typing import Any


def dataclass_from_dict(cls, d: dict[str, Any], where: str | None = None):
    """``cls(**d)`` after :func:`check_fields`: unknown keys and values of
    the wrong type are a ValueError naming the key (``where`` says where
    the dict came from, e.g. a config file's section)."""
    check_fields(cls, d, where)
    return cls(**d)


def check_fields(cls, d, where: str | None = None) -> None:
    """Check the mapping ``d`` against the dataclass ``cls``'s fields and
    type hints: every key a field, every value of the field's type.

    The schema is the type hints themselves, so a new field is checked
    with no change here: ``int`` takes an int (not a bool), ``float`` an
    int or a float, ``str`` a string, ``tuple[int, ...]`` a list of ints,
    ``dict[str, Any]`` a mapping with string keys, ``X | None`` also null.

    Raises:
        ValueError: one line naming ``where`` (defaults to the class's
            name), the key, the expected type and the received value.
    """
    where = where or cls.__name__
    if not isinstance(d, dict):
        raise ValueError(
            f"{where}: must be a mapping of {cls.__name__} fields. "
            f"Received: {_shown(d)}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    for key, value in d.items():
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(
                f"{where}: unknown key {key!r}{hint}; valid fields of "
                f"{cls.__name__} are {sorted(known)}")
        if not _is_instance(value, hints[key]):
            raise ValueError(
                f"{where}: {key!r} must be {_type_name(hints[key])}. "
                f"Received: {key}={_shown(value)}"
                f"{_quoted_hint(value, hints[key])}")


def _is_instance(value, hint) -> bool:
    """Whether ``value`` (as JSON/YAML gives it) fits the type ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_is_instance(value, a) for a in args)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return (isinstance(value, (int, float))
                and not isinstance(value, bool))
    if origin in (tuple, list):
        item = args[0] if args else Any
        return (isinstance(value, (list, tuple))
                and all(_is_instance(v, item) for v in value))
    if origin is dict or hint is dict:
        key, item = args if args else (Any, Any)
        return isinstance(value, dict) and all(
            _is_instance(k, key) and _is_instance(v, item)
            for k, v in value.items())
    return isinstance(value, origin or hint)


def _type_name(hint) -> str:
    """``hint`` as a config file's author reads it: 'an int', 'a list of
    int', 'a mapping', 'a string or null' …"""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin in (tuple, list):
        return f"a list of {_type_name(args[0]).split(' ', 1)[-1]}"
    if origin is dict or hint is dict:
        return "a mapping (a JSON object)"
    names = {bool: "true or false", int: "an int", float: "a number",
             str: "a string", type(None): "null"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _shown(value) -> str:
    """``value`` and its type, short: ``'abc' (str)``."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _quoted_hint(value, hint) -> str:
    """For a number written as a string: how to write it as a number."""
    expected = _type_name(hint)
    if not isinstance(value, str) or not ("an int" in expected
                                          or "a number" in expected):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    yaml = (" (YAML reads 1e-3 as a string: write 1.0e-3)"
            if "e" in value.lower() and "." not in value else "")
    return f"; write the number without quotes{yaml}"


def load_config_file(path: str, schema: dict[str, type] | None = None
                     ) -> dict[str, Any]:
    """Read a JSON or YAML file (YAML by extension) into a dict.

    Args:
        path: the file.
        schema: section name -> dataclass, e.g. ``{"model": ModelConfig,
            "train": TrainConfig}``. When given, the file must be a mapping
            of these sections only, each checked by :func:`check_fields`.

    Raises:
        ValueError: one line naming the file and what is wrong with it
            (unreadable, not JSON/YAML, an unknown section or key, a value
            of the wrong type).
    """
    try:
        with open(path) as fh:
            text = fh.read()
        if str(path).endswith((".yaml", ".yml")):
            import yaml

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as err:
                raise ValueError(
                    f"not valid YAML: {' '.join(str(err).split())}") from err
        else:
            data = json.loads(text)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{path}: config file not found") from err
    except (OSError, ValueError) as err:  # JSON / Unicode errors too
        reason = getattr(err, "strerror", None) or str(err)
        if isinstance(err, json.JSONDecodeError):
            reason = f"not valid JSON: {err}"
        raise ValueError(f"{path}: {reason}") from err
    if data is None:  # an empty file: every default
        data = {}
    if schema is not None:
        check_sections(data, schema, path)
    return data


def check_sections(data, schema: dict[str, type], where: str) -> None:
    """``data`` is a mapping of ``schema``'s sections, each a mapping of
    its dataclass's fields (:func:`check_fields`); else a ValueError
    naming ``where``."""
    if not isinstance(data, dict):
        raise ValueError(
            f"{where}: a config file is a mapping with the sections "
            f"{sorted(schema)}. Received: {_shown(data)}")
    for name, section in data.items():
        if name not in schema:
            near = difflib.get_close_matches(str(name), list(schema), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(
                f"{where}: unknown section {name!r}{hint}; valid sections "
                f"are {sorted(schema)}")
        check_fields(schema[name], section, f"{where}: section {name!r}")
