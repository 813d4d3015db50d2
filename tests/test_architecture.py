"""The import rules of docs/architecture.md, checked on the source tree.

Every import statement of the package (module level and inside functions) is read with
``ast``; each folder may import only what its rule allows, nobody imports a private name
from another module, and no imports (module-level or inside functions) form a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sc_neurocore"
ROOT = "sc_neurocore"

#: What the kernels of every backend may know: formulas, tensors and settings.
KERNEL_SAFE = (
    "core.spec",
    "core.formula",
    "core.settings",
    "core.compat",
    "core.errors",
    "core.forksafe",
    "core.expression",
    "core.derivative",
    "core.neuron_spec",
    "core.step_program",
)

#: folder or module (relative to the package) -> prefixes it may import (relative too).
RULES: dict[str, tuple[str, ...]] = {
    "core": ("core",),
    "kernels": ("kernels", *KERNEL_SAFE),
    "surrogates": ("core.spec", "core.hookspecs", "core.formula", "kernels"),
    "neuron_models": ("core.neuron_spec", "core.hookspecs"),
    "paths": ("paths", "kernels", "core.hookspecs", *KERNEL_SAFE),
    # neuron_models: the fused layers (LIF, SynapticLIF, LeakyIntegrator) run built-in specs.
    "neurons": (
        "neurons",
        "kernels",
        "neuron_models",
        "core.bound",
        "core.callforms",
        *KERNEL_SAFE,
    ),
    "networks": ("neurons", "kernels", "core.bound", "core.callforms", *KERNEL_SAFE),
    "__init__": ("core",),
}

#: Imports that break a rule on purpose, each with the reason (docs/architecture.md).
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("__init__", "interchange.operators"): (
        "import sc_neurocore installs the torch.ops lookups that define the project's "
        "operators on demand, so torch.export.load works in a fresh process"
    ),
    ("neurons.neuron", "core.registry"): (
        "Neuron('alif') is given a neuron's name: the layer looks the spec up, as "
        "get_surrogate(name) does"
    ),
}


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts) or "__init__"


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """The absolute target (relative to the package) of a ``from ... import``."""
    if node.level == 0:
        return (node.module or "").removeprefix(ROOT).lstrip(".")
    base = module.split(".") if module != "__init__" else []
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports() -> list[tuple[str, str, list[str], bool]]:
    """(importer, imported, names, at module level) for every import inside the package."""
    found = []
    modules = {_module_name(path) for path in PACKAGE.rglob("*.py")}
    for path in sorted(PACKAGE.rglob("*.py")):
        module, is_package = _module_name(path), path.name == "__init__.py"
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level == 0 and not (node.module or "").startswith(ROOT):
                    continue
                target = _resolve(module, node, is_package)
                names = [alias.name for alias in node.names]
                # "from .core import compat" imports the submodule core.compat
                if node.module is None or any(f"{target}.{n}".strip(".") in modules for n in names):
                    for name in names:
                        found.append(
                            (module, f"{target}.{name}".strip("."), [], id(node) in top_level)
                        )
                    continue
                found.append((module, target, names, id(node) in top_level))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(ROOT + "."):
                        target = alias.name.removeprefix(ROOT + ".")
                        found.append((module, target, [], id(node) in top_level))
    return found


def _group(module: str) -> str:
    return module.split(".")[0]


def _allowed(module: str, target: str) -> bool:
    rule = RULES.get(_group(module))
    if rule is None or target in ("", "__init__"):
        return True
    return any(target == prefix or target.startswith(prefix + ".") for prefix in rule)


def test_the_rules_see_the_whole_package() -> None:
    imports = _imports()
    assert len(imports) > 100
    assert {_group(module) for module, *_ in imports} >= set(RULES) - {"surrogates"}


@pytest.mark.parametrize("group", sorted(RULES))
def test_each_folder_imports_only_what_its_rule_allows(group: str) -> None:
    broken = [
        f"{module} imports {target}"
        for module, target, _, _ in _imports()
        if _group(module) == group
        and not _allowed(module, target)
        and (module, target) not in EXCEPTIONS
    ]
    assert not broken, "\n".join(broken)


def test_nobody_imports_a_private_name_of_another_module() -> None:
    private = [
        f"{module} imports {name} from {target}"
        for module, target, names, _ in _imports()
        for name in names
        if name.startswith("_") and not name.startswith("__") and target != module
    ]
    assert not private, "\n".join(private)


def _import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports, at module level or inside a function.

    A package's ``__init__`` importing its own submodules is how re-exports work: not an edge.
    """
    modules = {_module_name(path) for path in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {module: set() for module in modules}
    for module, target, names, _ in _imports():
        for candidate in [f"{target}.{name}" for name in names] + [target]:
            if candidate in modules and candidate != module:
                if not (candidate.startswith(module + ".") or module == "__init__"):
                    edges[module].add(candidate)
                break
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def test_the_cycle_check_sees_imports_inside_functions() -> None:
    edges = _import_graph()
    inside = {(module, target) for module, target, _, top in _imports() if not top}
    assert any(target in edges[module] for module, target in inside)
    edges["core.spec"] = edges["core.spec"] | {"core.errors"}
    edges["core.errors"] = edges["core.errors"] | {"core.spec"}
    assert ["core.errors", "core.spec"] in _cycles(edges)


def test_imports_form_no_cycle() -> None:
    """No circle among the package's modules, counting imports inside functions: a
    function-level import hides a circle from Python, not from the design."""
    cycles = _cycles(_import_graph())
    assert not cycles, "\n".join(" <-> ".join(cycle) for cycle in cycles)


def test_architecture_page_names_every_folder_and_top_level_module() -> None:
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    entries = [p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    entries += [
        p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")
    ]
    missing = [name for name in entries if name.removesuffix(".py") not in page]
    assert not missing, f"docs/architecture.md does not mention {missing}"


CLI_PARSER = PACKAGE.parent / "sc_neurocore_cli"


def test_the_command_line_parser_imports_only_the_standard_library() -> None:
    """``sc-neurocore --help`` and usage errors must not pay for torch: the parser package
    imports the standard library and itself; it reaches the library by module name only."""
    import sys

    foreign = []
    for path in sorted(CLI_PARSER.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name.split(".")[0] not in (*sys.stdlib_module_names, "__future__"):
                    foreign.append(f"{path.name}: {name}")
    assert not foreign, "\n".join(foreign)
