"""The layers of the tree (docs/architecture.md): every import of a project module points to its
own layer or one below, and the plain layers load no Thespian."""

from __future__ import annotations

import ast
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


@pytest.fixture(scope="module")
def loaded_thespian():
    """For each plain layer, what a fresh interpreter that imports every module of it prints:
    the first Thespian modules in ``sys.modules``.  The interpreters run at once, since each
    spends about half a second importing."""
    procs = {}
    for layer in PLAIN:
        names = sorted(m for m in modules() if layer_of(m) == LAYERS.index(layer))
        code = ("import importlib, sys\n"
                f"for m in {names!r}: importlib.import_module(m)\n"
                "print([m for m in sys.modules if m == 'thespian' or m.startswith('thespian.')][:3])")
        procs[layer] = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        return {layer: (p.communicate(timeout=60), p.returncode) for layer, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.parametrize("layer", PLAIN)
def test_plain_layers_load_no_thespian(layer, loaded_thespian):
    (stdout, stderr), returncode = loaded_thespian[layer]
    assert returncode == 0, stderr
    assert stdout.strip() == "[]", f"{layer} loads Thespian: {stdout}"
