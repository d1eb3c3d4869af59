"""The public API: each package's ``__all__`` is what docs/api.md lists, and
every listed name resolves (tfnn.lazy loads it on first use)."""

import importlib
import pkgutil
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import tfnn
from tfnn import data, training
from tfnn.lazy import lazy_exports
from tfnn.nn import activations, initializers, optimizers
from tfnn.studies import benchmark

API_MD = Path(__file__).resolve().parents[1] / "docs" / "api.md"
PACKAGES = ["tfnn"] + sorted(
    m.name for m in pkgutil.walk_packages(tfnn.__path__, "tfnn.")
    if m.ispkg)


def documented() -> dict:
    """docs/api.md as ``{package: [names]}``: each ``## `package```
    section's ``- `name`: …`` lines, in order."""
    sections, current = {}, None
    for line in API_MD.read_text().splitlines():
        heading = re.fullmatch(r"## `(tfnn[\w.]*)`", line)
        if heading:
            current = sections.setdefault(heading.group(1), [])
            continue
        item = re.match(r"- `(\w+)`: \S", line)
        if item and current is not None:
            current.append(item.group(1))
    return sections


def test_api_md_documents_every_package_and_only_its_all():
    docs = documented()
    assert sorted(docs) == sorted(PACKAGES)
    for package in PACKAGES:
        names = importlib.import_module(package).__all__
        assert sorted(docs[package]) == sorted(names), package
        assert len(set(names)) == len(names), package


def test_the_docs_are_parsed_as_written():
    # The parser above finds what it should (an empty parse would pass
    # the comparison for an empty __all__).
    docs = documented()
    assert "Trainer" in docs["tfnn"] and "run_seed" in docs[
        "tfnn.studies.speedrun"]
    assert sum(map(len, docs.values())) > 150


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
        assert name in dir(module)


def test_internals_are_not_exported():
    for name in ("epoch_seed", "fast_path_jit", "FAST_PATH_MIN_STEPS",
                 "shard_epoch"):
        assert name not in training.__all__
        with pytest.raises(AttributeError, match=name):
            getattr(training, name)
    for name in ("tfnn_step_parts", "time_parts"):
        assert name not in benchmark.__all__


def test_readme_names_keep_working():
    # What the README's examples import (at the top of this file).
    assert tfnn.build_mlp is tfnn.models.build_mlp
    assert tfnn.ModelConfig is tfnn.config.ModelConfig
    assert tfnn.Trainer is training.Trainer
    assert callable(training.train_step) and callable(training.fit_keras)
    assert callable(data.prefetch) and callable(data.read_decoded)
    assert tfnn.activations is activations
    assert tfnn.initializers is initializers
    assert tfnn.optimizers is optimizers


def test_lazy_exports_imports_on_first_use(monkeypatch):
    package = types.ModuleType("fake_package")
    package.__path__ = []
    monkeypatch.setitem(sys.modules, "fake_package", package)
    submodule = types.ModuleType("fake_package.sub")
    monkeypatch.setitem(sys.modules, "fake_package.sub", submodule)
    getattr_, dir_ = lazy_exports("fake_package", {
        "dumps": "json",  # an attribute of another module
        "sub": "fake_package",  # the package's own submodule
    })
    package.own = 1
    assert getattr_("dumps") is sys.modules["json"].dumps
    assert getattr_("sub") is submodule
    assert dir_() == sorted({*vars(package), "dumps", "sub"})
    assert "own" in dir_()
    with pytest.raises(AttributeError,
                       match="module 'fake_package' has no attribute 'x'"):
        getattr_("x")


def test_import_tfnn_loads_no_package_below_it():
    # ``import tfnn`` is the package root and tfnn.lazy only: each name
    # loads its module on first use (checked in a fresh process).
    code = ("import sys, tfnn\n"
            "print(sorted(m for m in sys.modules if m.startswith('tfnn')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['tfnn', 'tfnn.lazy']"
