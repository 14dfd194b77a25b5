"""Imports point one way: data -> nn -> models -> losses -> recipes -> train -> pipelines -> cli.

Metrics and editing depend on models (and data); they never import recipes, train, pipelines
or cli. Every import counts, including the lazy ones inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import gankit

ROOT = Path(gankit.__file__).parent
# rank of each top-level part; a module may import parts of lower rank (and its own part).
# app (the web app) sits beside the CLI, above pipelines; only `gankit app` (cli/app.py) imports it.
RANK = {"": 0, "__init__": 0, "errors": 0, "io": 0, "registry": 0.1, "config": 0.2, "data": 1, "nn": 2, "models": 3,
        "losses": 4, "metrics": 4, "recipes": 5, "editing": 5, "train": 6, "pipelines": 7, "studies": 8, "app": 8.5, "cli": 9,
        "__main__": 10}  # python -m gankit: the command line itself


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return [m for m in out if m == "gankit" or m.startswith("gankit.")]


def test_no_module_imports_upwards():
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        me = rel.parts[0] if len(rel.parts) > 1 else rel.parts[0]
        assert me in RANK, f"{rel}: unknown layer '{me}' (add it to RANK)"
        for mod in _imports(path):
            other = _part(mod)
            if other == me:
                continue
            if other not in RANK:
                bad.append(f"{rel} imports {mod} (unknown layer)")
            elif RANK[other] >= RANK[me]:
                bad.append(f"{rel} imports {mod}")
    assert not bad, "upward or sideways imports:\n" + "\n".join(bad)
