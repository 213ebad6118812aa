"""The layers of the tree (docs/architecture.md): every import of a project module points to its
own layer or one below, and the plain layers load no Thespian."""

from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

LAYERS = ["rlpx", "discovery", "protocols", "config", "messages", "node", "actors.io", "actors.adapter", "actors", "run_node"]
"""Lowest first: a module may import its own layer and the ones before it."""

PLAIN = ["rlpx", "discovery", "protocols", "config", "messages", "node", "actors.io"]
"""Layers that must not load Thespian when imported."""

def layer_of(module: str) -> int | None:
    """Index in LAYERS of the most specific layer that ``module`` belongs to (None: not ours)."""
    best = None
    for i, name in enumerate(LAYERS):
        if module == name or module.startswith(name + "."):
            if best is None or len(name) > len(LAYERS[best]):
                best = i
    return best


def modules() -> dict[str, pathlib.Path]:
    found = {"run_node": ROOT / "run_node.py"}
    for top in ("rlpx", "discovery", "protocols", "config", "messages", "node", "actors"):
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            name = ".".join(rel.parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: pathlib.Path) -> set[str]:
    """Project modules that ``name`` imports anywhere in its body (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            for alias in node.names:  # "from actors.io import channel" imports actors.io.channel
                out.add(f"{target}.{alias.name}")
    return {m for m in out if layer_of(m) is not None}


def test_layer_table_knows_every_module():
    mods = modules()
    assert "node.peer_machine" in mods and "actors.adapter" in mods
    assert all(layer_of(m) is not None for m in mods), [m for m in mods if layer_of(m) is None]


def test_imports_point_downward_only():
    upward = []
    for name, path in sorted(modules().items()):
        mine = layer_of(name)
        for target in sorted(imports(name, path)):
            if layer_of(target) > mine:
                upward.append(f"{name} ({LAYERS[mine]}) imports {target} ({LAYERS[layer_of(target)]})")
    assert upward == []


def test_an_upward_import_is_caught(tmp_path):
    # control: the check above sees an import from a lower layer to a higher one
    bad = tmp_path / "bad.py"
    bad.write_text("from actors.peer import Peer\n")
    assert layer_of("config.bad") < layer_of(next(iter(imports("config.bad", bad))))


LOAD_LAYERS = """
import importlib, json, sys, traceback
for layer, names in json.loads(sys.argv[1]):
    try:
        for m in names:
            importlib.import_module(m)
        got = [m for m in sys.modules if m == "thespian" or m.startswith("thespian.")][:3]
    except BaseException:
        got = traceback.format_exc()
    print(json.dumps([layer, got]), flush=True)
"""
"""Imports the plain layers lowest first in one interpreter and prints, after each, the first
Thespian modules loaded so far (or the import's traceback)."""


@pytest.fixture(scope="module")
def loaded_thespian() -> dict:
    """Plain layer -> the Thespian modules loaded once it and the layers below it are imported.
    A layer may import only those below it (test_imports_point_downward_only), so this is what
    importing the layer alone loads; one interpreter, not one per layer, as each start costs
    about half a second."""
    plan = [(layer, sorted(m for m in modules() if layer_of(m) == LAYERS.index(layer))) for layer in PLAIN]
    out = subprocess.run([sys.executable, "-c", LOAD_LAYERS, json.dumps(plan)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    got = dict(json.loads(line) for line in out.stdout.splitlines())
    return {layer: got.get(layer, f"not reached (exit code {out.returncode}): {out.stderr}") for layer in PLAIN}


@pytest.mark.parametrize("layer", PLAIN)
def test_plain_layers_load_no_thespian(layer, loaded_thespian):
    got = loaded_thespian[layer]
    assert isinstance(got, list), f"importing {layer} failed: {got}"
    assert got == [], f"{layer} loads Thespian: {got}"
