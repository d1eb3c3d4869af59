"""The house's rules, checked on the source with ``ast``.

tfnn is layered (see ``tfnn/__init__.py``): a module imports only from its
own package or from the layers below it, the import graph has no cycle, no
``_private`` name is used outside the module that defines it, nothing
imports ``keras.src`` (Keras's internals), and library code never switches
matplotlib's backend (that is the caller's choice).
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "tfnn"

# Bottom to top; a module may import from its own layer and those before it.
LAYERS = [
    ("tfnn", "tfnn.atomic_json", "tfnn.batched_inference", "tfnn.config",
     "tfnn.config_files", "tfnn.lazy", "tfnn.provenance", "tfnn.registry",
     "tfnn.runtime"),
    ("tfnn.nn",),
    ("tfnn.data",),
    ("tfnn.models",),
    ("tfnn.training",),
    ("tfnn.shipping",),
    ("tfnn.serving",),
    ("tfnn.studies",),
    # ``python -m tfnn`` is the command line: beside it, at the top.
    ("tfnn.cli", "tfnn.__main__"),
]
# Private names of other libraries that tfnn has to touch, with the reason.
FOREIGN_PRIVATE = {
    # tfds has no public switch to keep its builders off Google Cloud
    # Storage; offline builds must not wait on a GCS look-up.
    "_is_gcs_disabled",
    # tfds validates manual files only against its own registered
    # checksums; the offline build adds the local files' checksums to one
    # builder's download manager (nothing global changes).
    "_make_download_manager",
    "_url_infos",
    # Python's documented os._exit: a multi-worker startup watchdog ends a
    # process whose main thread is blocked inside TensorFlow's C++, and a
    # speedrun worker skips Python's teardown once its result is written.
    "_exit",
}


def lazy_exports_of(path: Path) -> dict:
    """A package's ``_EXPORTS`` table (tfnn.lazy): name -> the module it
    is imported from."""
    for node in ast.parse(path.read_text()).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", "") == "_EXPORTS"):
            return ast.literal_eval(node.value)
    return {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def exports():
    """package -> its ``_EXPORTS`` table, for every package in MODULES."""
    return {name: lazy_exports_of(path) for name, path in MODULES.items()
            if path.name == "__init__.py"}


def resolve(package: str, name: str, tables=None) -> str | None:
    """The module that ``from package import name`` loads in the end,
    through the packages' lazy exports; None when ``name`` is not one."""
    tables = exports() if tables is None else tables
    where = tables.get(package, {}).get(name)
    if where is None:
        return None
    if where == package:
        return f"{package}.{name}"
    return resolve(where, name, tables) or where


def is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def layer(name: str) -> int:
    best = None
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if prefix != "tfnn" or name in prefixes:
                    best = rank
    if best is None:
        raise AssertionError(f"{name} is in no layer of LAYERS")
    return best


def imports_of(name: str):
    """(line, imported tfnn module, imported names) for every import in the
    module, at top level or inside functions."""
    tree = ast.parse(MODULES[name].read_text())
    tables = exports()
    package = name if is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("tfnn", "keras"):
                    yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            if base.split(".")[0] not in ("tfnn", "keras"):
                continue
            names = tuple(a.name for a in node.names)
            for imported in names:
                sub = f"{base}.{imported}"
                lazy = resolve(base, imported, tables)
                if lazy is not None and lazy != base:
                    yield node.lineno, lazy, ()
                elif sub in MODULES:
                    yield node.lineno, sub, ()
                else:
                    yield node.lineno, base, (imported,)


def test_every_module_is_in_a_layer():
    def placed(name):
        try:
            return layer(name) >= 0
        except AssertionError:
            return False

    assert len(MODULES) > 50  # the walk found the package
    unplaced = [name for name in MODULES if not placed(name)]
    assert unplaced == [], f"modules in no layer of LAYERS: {unplaced}"
    # the entry points (python -m tfnn, python -m tfnn.cli) are part of
    # the top layer, so nothing below the command line imports them
    assert layer("tfnn.cli.__main__") == len(LAYERS) - 1
    assert layer("tfnn.__main__") == len(LAYERS) - 1


def test_lazy_exports_name_modules_that_exist():
    tables = exports()
    assert set(tables) == {n for n in MODULES if is_package(n)}
    wrong = [f"{package}: {name} -> {where}"
             for package, table in tables.items()
             for name, where in table.items()
             if resolve(package, name, tables) not in MODULES
             and where not in MODULES]
    assert not wrong, wrong
    # The exports resolve to modules (so the layer checks see them).
    assert resolve("tfnn", "Trainer", tables) == "tfnn.training.trainer"
    assert resolve("tfnn", "activations", tables) == "tfnn.nn.activations"


def test_imports_point_down():
    wrong = []
    for name in MODULES:
        for line, target, _ in imports_of(name):
            if target.startswith("tfnn") and layer(target) > layer(name):
                wrong.append(f"{name}:{line} imports {target}")
    assert not wrong, "imports that point up:\n" + "\n".join(wrong)


def test_library_uses_no_bare_import_of_tfnn():
    # ``import tfnn`` then ``tfnn.x`` hides which layer is used.
    wrong = [f"{name}:{line}" for name in MODULES
             for line, target, names in imports_of(name)
             if target == "tfnn" and not names]
    assert not wrong, wrong


def test_no_import_cycle():
    graph = {name: set() for name in MODULES}
    for name in MODULES:
        for _, target, _ in imports_of(name):
            if target in MODULES and target != name:
                graph[name].add(target)
    # A package's __init__ may re-export its own submodules.
    for name, targets in graph.items():
        if is_package(name):
            targets -= {t for t in targets if t.startswith(name + ".")}
    # Tarjan's strongly connected components.
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def is_private(identifier: str) -> bool:
    return identifier.startswith("_") and not identifier.startswith("__")


def test_no_private_name_is_used_outside_its_module():
    wrong = []
    for name, path in MODULES.items():
        for line, target, names in imports_of(name):
            parts = target.split(".")
            if any(is_private(p) for p in parts) or any(
                    is_private(n) for n in names):
                wrong.append(f"{name}:{line} imports {target} {names}")
        tree = ast.parse(path.read_text())
        own = {n.name for n in ast.walk(tree) if isinstance(
            n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        own |= {n.attr for n in ast.walk(tree)
                if isinstance(n, ast.Attribute)
                and isinstance(n.ctx, ast.Store)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and is_private(node.attr)
                    and node.attr not in FOREIGN_PRIVATE | own):
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in ("self",
                                                                "cls"):
                    continue
                wrong.append(f"{name}:{node.lineno} uses .{node.attr}")
    assert not wrong, "private names used across modules:\n" + "\n".join(
        wrong)


def test_nothing_imports_keras_internals():
    wrong = [f"{name}:{line} imports {target}" for name in MODULES
             for line, target, _ in imports_of(name)
             if target == "keras.src" or target.startswith("keras.src.")]
    assert not wrong, wrong
    # Not even by string (importlib, sys.modules look-ups).
    named = [name for name, path in MODULES.items()
             if "keras" + ".src" in path.read_text()]
    assert not named, named


def test_library_never_switches_the_matplotlib_backend():
    wrong = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "use"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "matplotlib"):
                wrong.append(f"{name}:{node.lineno}")
    assert not wrong, wrong


@pytest.mark.parametrize("rule", ["up", "cycle"])
def test_the_checks_catch_a_violation(tmp_path, monkeypatch, rule):
    # The walker itself: a planted upward import and a planted cycle are
    # found (a checker that finds nothing would pass every tree).
    fake = tmp_path / "tfnn"
    (fake / "nn").mkdir(parents=True)
    (fake / "cli").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "cli" / "__init__.py").write_text("")
    (fake / "nn" / "__init__.py").write_text("")
    if rule == "up":
        (fake / "nn" / "a.py").write_text("from tfnn.cli import main\n")
    else:
        (fake / "nn" / "a.py").write_text("from tfnn.nn import b\n")
        (fake / "nn" / "b.py").write_text("import tfnn.nn.a\n")
    monkeypatch.setitem(globals(), "ROOT", fake)
    modules = {module_name(p): p for p in sorted(fake.rglob("*.py"))}
    monkeypatch.setitem(globals(), "MODULES", modules)
    check = test_imports_point_down if rule == "up" else test_no_import_cycle
    with pytest.raises(AssertionError):
        check()


def test_layers_cover_the_tree_on_disk():
    packages = {p.name for p in ROOT.iterdir()
                if p.is_dir() and (p / "__init__.py").exists()}
    named = {prefix.split(".")[1] for prefixes in LAYERS
             for prefix in prefixes if prefix.count(".") == 1}
    assert packages <= named, sorted(packages - named)
    assert os.path.exists(ROOT / "cli" / "__main__.py")


MAX_FUNCTION_LINES = 80


def long_functions(tree):
    """(name, line, length) of functions longer than MAX_FUNCTION_LINES,
    nested ones and plotting functions included (a figure is one helper
    per panel)."""
    return [(node.name, node.lineno, node.end_lineno - node.lineno + 1)
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def test_no_function_is_longer_than_80_lines():
    wrong = [f"{name}:{line} {fn} has {n} lines" for name, path in
             MODULES.items()
             for fn, line, n in long_functions(ast.parse(path.read_text()))]
    assert not wrong, "\n".join(wrong)


def test_the_length_check_measures_def_to_last_line():
    # plotting functions and nested functions are measured too
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    nested = "\n".join(f"        y{i} = {i}"
                        for i in range(MAX_FUNCTION_LINES))
    tree = ast.parse(f"def f():\n{body}\n\ndef plot_g():\n{body}\n\n"
                     f"def h():\n    def plot_i():\n{nested}\n")
    n = MAX_FUNCTION_LINES + 1
    assert sorted(long_functions(tree)) == [
        ("f", 1, n), ("h", 2 * n + 3, n + 1), ("plot_g", n + 2, n),
        ("plot_i", 2 * n + 4, n)]


def readme_layout(readme: str) -> dict[str, set[str]]:
    """The README's Layout table: package → the names in its modules column
    (``tfnn/`` lists the top-level modules; a subpackage ends in ``/``)."""

    table = readme[readme.index("## Layout"):]
    table = table[:table.index("\n## ") if "\n## " in table else None]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"`tfnn/[\w/]*`", cells[0]):
            rows[cells[0].strip("`")] = set(
                re.findall(r"`([\w]+/?)`", cells[1]))
    return rows


def package_contents(folder: Path, with_packages: bool = True) -> set[str]:
    """Module names of ``folder`` (and its subpackages as ``name/``)."""
    names = {p.stem for p in folder.glob("*.py")
             if p.stem not in ("__init__", "__main__")}
    if with_packages:
        names |= {f"{p.name}/" for p in folder.iterdir()
                  if (p / "__init__.py").exists()}
    return names


def test_readme_layout_names_every_package_and_module_on_disk():
    rows = readme_layout((ROOT.parent / "README.md").read_text())
    packages = {f"tfnn/{p.name}/" for p in ROOT.iterdir()
                if (p / "__init__.py").exists()}
    assert set(rows) == {"tfnn/"} | packages, sorted(
        set(rows) ^ ({"tfnn/"} | packages))
    for package, named in rows.items():
        on_disk = package_contents(ROOT.parent / package,
                                   with_packages=package != "tfnn/")
        assert named == on_disk, (package, "not on disk:",
                                  sorted(named - on_disk), "not named:",
                                  sorted(on_disk - named))


def test_readme_layout_reader_sees_a_missing_module(tmp_path):
    readme = ("## Layout\n\n| package | modules | what |\n|---|---|---|\n"
              "| `tfnn/` | `config` | x |\n| `tfnn/nn/` | `layers` `rbm/` "
              "| y |\n| `tests/` | – | z |\n\n## Next\n"
              "| `tfnn/a/` | `b` | c |\n")
    assert readme_layout(readme) == {"tfnn/": {"config"},
                                     "tfnn/nn/": {"layers", "rbm/"}}
    (tmp_path / "rbm").mkdir()
    (tmp_path / "rbm" / "__init__.py").write_text("")
    for name in ("layers.py", "init.py", "__main__.py"):
        (tmp_path / name).write_text("")
    assert package_contents(tmp_path) == {"layers", "init", "rbm/"}
    assert package_contents(tmp_path, with_packages=False) == {"layers",
                                                               "init"}
