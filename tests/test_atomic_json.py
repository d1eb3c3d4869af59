"""tfnn.atomic_json: JSON written whole or not at all, NumPy converted."""

import json

import numpy as np

from tfnn.atomic_json import to_jsonable, write_json


def test_to_jsonable_converts_numpy_recursively():
    value = {1: np.arange(3), "b": (np.float32(0.5), [np.int64(7)]),
             "c": "text", "d": None}
    got = to_jsonable(value)
    assert got == {"1": [0, 1, 2], "b": [0.5, [7]], "c": "text", "d": None}
    assert type(got["b"][0]) is float and type(got["b"][1][0]) is int


def test_write_json_sorts_keys_and_replaces_the_file_whole(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text("old")
    write_json(str(path), {"b": np.array([1.5]), "a": 1})
    text = path.read_text()
    assert text.index('"a"') < text.index('"b"') and text.endswith("}\n")
    assert json.loads(text) == {"a": 1, "b": [1.5]}
    # the temporary file was renamed over the target: nothing else is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]
