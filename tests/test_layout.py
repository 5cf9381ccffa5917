"""The package's shape: module-level imports form no cycle, stages never import a command, the benchmark stays
outside, and an import inside a function says why it is there (a heavy dependency, a cycle, the CLI's lazy verb)."""
from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pactnews"
REASONS = ("heavy", "cycle", "lazy")


def modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return out


def imported(name: str, node: ast.ImportFrom | ast.Import, known: set[str]) -> list[str]:
    """The pactnews modules an import statement of module `name` loads."""
    if isinstance(node, ast.Import):
        targets = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = name.split(".")
            is_package = name in PACKAGES
            anchor = package if is_package else package[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    return sorted({t for t in targets if t in known})


MODULES = modules()
PACKAGES = {n for n in MODULES if (PACKAGE.parent / n.replace(".", "/") / "__init__.py").is_file()}


def top_level_imports(tree: ast.Module):
    """Import statements run when the module is imported (not inside a function; `if TYPE_CHECKING:` counts)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            stack.extend(ast.iter_child_nodes(node))
        elif isinstance(node, ast.ExceptHandler):
            stack.extend(node.body)


def function_imports(tree: ast.Module):
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    yield node


def graph() -> dict[str, set[str]]:
    known = set(MODULES)
    return {name: {t for node in top_level_imports(tree) for t in imported(name, node, known) if t != name}
            for name, tree in MODULES.items()}


def test_module_level_imports_form_no_cycle():
    edges = graph()
    assert len(edges) > 60 and sum(map(len, edges.values())) > 150  # the walk sees the package
    try:
        list(graphlib.TopologicalSorter(edges).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_the_cycle_check_finds_a_cycle():
    edges = graph()
    edges["pactnews.repo"] = edges["pactnews.repo"] | {"pactnews.pipeline.build"}
    with pytest.raises(graphlib.CycleError):
        list(graphlib.TopologicalSorter(edges).static_order())


def test_stages_import_no_command_and_the_package_no_benchmark():
    known = set(MODULES)
    wrong = []
    for name, tree in MODULES.items():
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            loads = imported(name, node, known)
            raw = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(r == "bench" or r.startswith("bench.") for r in raw):
                wrong.append(f"{name} imports the benchmark")
            if not name.startswith(("pactnews.commands", "pactnews.cli")):
                wrong += [f"{name} imports {t}" for t in loads if t.startswith("pactnews.commands") or t == "pactnews.cli"]
    assert wrong == []


def reason(lines: list[str], i: int) -> str:
    """The comment that explains the import on line i: its own, or that of the import lines or comment above."""
    while i >= 0:
        line = lines[i].strip()
        if line.startswith("#"):
            return line.lstrip("# ")
        if not line.startswith(("from ", "import ")):
            return ""
        if "#" in line:
            return line.partition("#")[2].strip()
        i -= 1
    return ""


def test_an_import_inside_a_function_says_why():
    """A pactnews import inside a function carries `# heavy: ...`, `# cycle: ...` or `# lazy: ...` on its line; a
    group of imports may share the reason of one above it or of a comment line just above the group."""
    known = set(MODULES)
    unexplained, seen = [], 0
    for name, tree in MODULES.items():
        path = PACKAGE.parent / (name.replace(".", "/") + ("/__init__.py" if name in PACKAGES else ".py"))
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in function_imports(tree):
            if not imported(name, node, known):
                continue
            seen += 1
            here = lines[node.lineno - 1]
            if not reason(lines, node.lineno - 1).startswith(REASONS):
                unexplained.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {here.strip()}")
    assert seen > 10 and unexplained == []
