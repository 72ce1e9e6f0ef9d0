"""The shape of the import graph: shared code never imports what sits above it, and nothing imports in a circle.

Every ``import`` and ``from ... import`` in ``common/`` and ``assignments/`` is read from the source, those inside
functions too (a late import hides a cycle, it does not remove it), and resolved to the suite's modules.
"""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "assignments")


def _modules():
    """{module name: path} of every module of the two packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _resolve(module, node, modules, is_package):
    """The suite modules an import node refers to."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join(package + ([base] if base else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    found = set()
    for name in names:
        while name and name not in modules:  # "import common.datasets.files" -> that module
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


def import_graph():
    """{module: set of the suite's modules it imports}."""
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges |= _resolve(module, node, modules, path.name == "__init__.py")
        graph[module] = edges - {module}
    return graph


def _cycles(graph, members):
    """Strongly connected components of more than one module (Tarjan), within ``members``."""
    index, low, stack, on_stack, components, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph[node] & members:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(members):
        if node not in index:
            visit(node)
    return components


def test_the_graph_is_read_from_the_source():
    graph = import_graph()
    assert "common.datasets.files" in graph["common.datasets.download"]
    assert "common.results" in graph["common.run"]
    assert "assignments.a1_usps_fcnet.config" in graph["assignments.a1_usps_fcnet.__main__"]  # a relative import
    assert "assignments.catalogue" in graph["assignments.__main__"]


def test_common_never_imports_the_assignments():
    upward = {module: sorted(target for target in targets if target.startswith("assignments"))
              for module, targets in import_graph().items() if module.startswith("common")}
    assert not {module: targets for module, targets in upward.items() if targets}


def test_an_assignment_imports_only_common_and_itself():
    """A student's copy of one folder runs under a new name, so an assignment imports nothing of the launcher,
    the catalogue or another assignment. The rubrics are the instructor's (left out of a student release) and
    share the fingerprints of the official test labels, ``assignments.fingerprints``."""
    wrong = {}
    for module, targets in import_graph().items():
        parts = module.split(".")
        if len(parts) < 2 or not (REPO / "assignments" / parts[1]).is_dir():
            continue
        own = f"assignments.{parts[1]}"
        allowed = ("assignments.fingerprints",) if parts[-1] == "rubric" else ()
        bad = [target for target in targets if target.startswith("assignments") and not target.startswith(own)
               and target not in allowed]
        if bad:
            wrong[module] = bad
    assert not wrong


def test_no_import_cycles():
    graph = import_graph()
    assert _cycles(graph, set(graph)) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph, set(graph)) == [["a", "b", "c"]]
