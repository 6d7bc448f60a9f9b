"""The layering the README and DESIGN.md promise, checked on the source.

``config/utils -> data -> conditioning -> models -> train, sample -> evaluate
-> apps -> cli``: a module never imports a higher layer at module level (imports
inside functions are how a lower layer calls up lazily), and the model families
never import one another.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "prodgen"

# Lowest first. Modules directly under prodgen/ that are not listed are utilities (layer 0).
LAYERS = {
    "data": 1,
    "conditioning": 2,
    "models": 3,
    "train": 4,
    "sample": 4,
    "evaluate": 5,
    "export": 5,
    "apps": 6,
    "cli": 7,
    "demo": 7,
    "serve": 7,
    "studio": 7,  # the web service: uses everything below, nothing imports it but the CLI
    "cli_serve": 7,
    "cli_verify": 7,
    "__main__": 8,
}
FAMILIES = {"prodgen.models.gan", "prodgen.models.vae", "prodgen.models.diffusion"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 0


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_imports(path: Path, name: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute prodgen module) of every import executed when the module is imported.

    Statements at module level, including inside module-level if/try/with blocks, but not
    ``if TYPE_CHECKING:`` blocks (never executed) nor function or class bodies run later.
    """
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: list[tuple[int, str]] = []

    def visit(stmts: list[ast.stmt]) -> None:
        for node in stmts:
            if isinstance(node, ast.Import):
                out.extend((node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "prodgen")
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != "prodgen":
                    continue
                if node.module is None or target == "prodgen":  # from . import x: x may be a module
                    out.extend((node.lineno, f"{target}.{a.name}") for a in node.names)
                else:
                    out.append((node.lineno, target))
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.With):
                visit(node.body)

    visit(ast.parse(path.read_text(), str(path)).body)
    return out


MODULES = sorted(SRC.rglob("*.py"))


def test_the_checker_sees_imports(tmp_path):
    """Relative and absolute imports resolved; TYPE_CHECKING blocks and function bodies skipped."""
    src = tmp_path / "fake.py"
    src.write_text(
        "from __future__ import annotations\n"      # 1
        "import os\n"                               # 2
        "from typing import TYPE_CHECKING\n"        # 3
        "from ..evaluate.features import fit\n"     # 4: upward
        "from . import pipeline\n"                  # 5
        "if TYPE_CHECKING:\n"                       # 6
        "    from ..apps import augment\n"          # 7: never executed
        "try:\n"                                    # 8
        "    import prodgen.cli\n"                  # 9: upward
        "except ImportError:\n"                     # 10
        "    pass\n"                                # 11
        "def f():\n"                                # 12
        "    from ..apps import fill\n"             # 13: lazy, allowed
    )
    found = module_level_imports(src, "prodgen.sample.fake")
    assert found == [(4, "prodgen.evaluate.features"), (5, "prodgen.sample.pipeline"), (9, "prodgen.cli")]
    assert [t for _, t in found if layer(t) > layer("prodgen.sample.fake")] == ["prodgen.evaluate.features", "prodgen.cli"]
    assert len(MODULES) > 40


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_level_import_of_a_higher_layer(path):
    name = module_name(path)
    upward = [f"line {n}: {name} (layer {layer(name)}) imports {target} (layer {layer(target)})"
              for n, target in module_level_imports(path) if layer(target) > layer(name)]
    assert not upward, "upward imports at module level (import inside the function instead):\n" + "\n".join(upward)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_model_families_never_import_one_another(family):
    path = SRC / "models" / (family.rsplit(".", 1)[1] + ".py")
    others = FAMILIES - {family}
    bad = [t for _, t in module_level_imports(path) if any(t == o or t.startswith(o + ".") for o in others)]
    assert not bad, f"{family} imports {bad}"
