"""
kvtwist's modules import each other without cycles: a module's imports,
read from its source (lazy imports inside functions included, imports
under C{if TYPE_CHECKING:} left out), never lead back to it.
"""

import ast
import os
from typing import Dict, List, Set

from twisted.trial.unittest import SynchronousTestCase

import kvtwist

#: Cycles being taken apart by their owners, as sets of module names:
#: C{kvtwist.commands.execute} (kept for tests of bare commands) imports
#: the memory backend lazily, which imports the package back.  Delete an
#: entry once its cycle is gone.
KNOWN_CYCLES: List[Set[str]] = [
    {"kvtwist.commands", "kvtwist.backends.memory"},
]


def packageModules(package) -> Dict[str, str]:
    """
    Every module of C{package}, by name, with its file.
    """
    top = os.path.dirname(os.path.abspath(package.__file__))
    base = os.path.dirname(top)
    found = {}
    for directory, _, files in os.walk(top):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            dotted = os.path.relpath(path, base)[:-3].replace(os.sep, ".")
            if dotted.endswith(".__init__"):
                dotted = dotted[:-len(".__init__")]
            found[dotted] = path
    return found


def _isTypeChecking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _importNodes(node: ast.AST):
    for child in ast.iter_child_nodes(node):
        if _isTypeChecking(child):
            for other in child.orelse:
                yield from _importNodes(other)
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        yield from _importNodes(child)


def importsOf(name: str, path: str, modules: Dict[str, str]) -> Set[str]:
    """
    The modules of C{modules} that module C{name} (source at C{path})
    imports: for C{from a import b}, C{a.b} if that is a module, else C{a}.
    """
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    isPackage = os.path.basename(path) == "__init__.py"
    package = name if isPackage else name.rpartition(".")[0]
    found = set()
    for node in _importNodes(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")[:len(package.split(".")) - node.level
                                       + 1]
            base = ".".join(parts + ([base] if base else []))
        for alias in node.names:
            full = "%s.%s" % (base, alias.name)
            if full in modules:
                found.add(full)
            elif base in modules:
                found.add(base)
    found.discard(name)
    return found


def cycles(graph: Dict[str, Set[str]]) -> List[Set[str]]:
    """
    The strongly connected components of more than one module of
    C{graph} (module -> modules it imports): each is a cycle, or several
    tied together.
    """
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    onStack: Set[str] = set()
    found: List[Set[str]] = []

    def visit(start: str):
        # Tarjan's algorithm, iterative: each frame is a module and the
        # iterator over what it imports.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        onStack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    onStack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in onStack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        onStack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


class CycleFinderTests(SynchronousTestCase):
    """
    L{cycles} and L{importsOf}, on small examples.
    """

    def test_cycles(self):
        """
        A cycle is found whatever its length; a module importing a cycle
        is not part of it.
        """
        graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"},
                 "e": set()}
        self.assertEqual(cycles(graph), [{"a", "b", "c"}])
        self.assertEqual(cycles({"a": {"b"}, "b": set()}), [])

    def test_imports(self):
        """
        Absolute, relative and lazy imports count; C{TYPE_CHECKING} ones
        don't.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("from typing import TYPE_CHECKING\n"
                    "from pkg import b\n"
                    "from . import c\n"
                    "if TYPE_CHECKING:\n"
                    "    import pkg.d\n"
                    "def f():\n"
                    "    from pkg.e import thing\n")
        modules = {name: "" for name in
                   ("pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.e")}
        self.assertEqual(importsOf("pkg.a", path, modules),
                         {"pkg.b", "pkg.c", "pkg.e"})


class NoCycleTests(SynchronousTestCase):
    """
    The import graph of kvtwist has no cycle.
    """

    def test_noCycle(self):
        """
        No module of kvtwist imports, directly or not, a module that
        imports it (but for L{KNOWN_CYCLES}).
        """
        modules = packageModules(kvtwist)
        graph = {name: importsOf(name, path, modules)
                 for name, path in modules.items()}
        found = [sorted(c) for c in cycles(graph) if c not in KNOWN_CYCLES]
        self.assertEqual(found, [])
