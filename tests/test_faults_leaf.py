"""The fault plugin is a leaf: found by entry point, imported by no core module, used only through its surface."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import mock_server.faults
from mock_server.app import PLUGIN_GROUP
from tests.paths import ROOT

PACKAGE = "mock_server.faults"
PACKAGE_DIR = ROOT / "mock_server" / "faults"
# The one core module that may import the package: the CLI lists the fault names in --help.
SURFACE_USERS = {ROOT / "mock_server" / "cli.py"}
# Code outside mock_server/ that may use the package, through its surface only.
OUTSIDE = ("contract_tests", "tests")


def module_name(path: Path) -> str:
    """The dotted name of a module of the repo (a package's ``__init__`` is the package)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, absolute module, names taken from it) for every import statement of a module."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            yield node.lineno, module, [alias.name for alias in node.names]


def imported_modules(module: str, names: list[str]) -> list[str]:
    """Every module an import statement may load: ``from a import b`` may load ``a.b``."""
    return [module, *(f"{module}.{name}" for name in names)]


def of_package(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def sources(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def test_the_healthy_mock_never_loads_the_fault_plugin() -> None:
    code = ("import sys; from mock_server.app import create_app; from mock_server.settings import Settings; "
            "create_app(Settings(fixtures=None)); "
            f"print(sorted(m for m in sys.modules if m == {PACKAGE!r} or m.startswith({PACKAGE + '.'!r})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"


def test_the_entry_point_finds_the_plugin_of_the_package() -> None:
    (found,) = entry_points(group=PLUGIN_GROUP, name="fault")
    assert found.value == f"{PACKAGE}:FaultPlugin"
    assert found.load() is mock_server.faults.FaultPlugin


def test_no_core_module_imports_the_fault_package() -> None:
    offenders = [f"{path.relative_to(ROOT)}:{line} imports {module}"
                 for path in sources("mock_server") if PACKAGE_DIR not in path.parents and path not in SURFACE_USERS
                 for line, module, names in imports(path)
                 if any(of_package(m) for m in imported_modules(module, names))]
    assert offenders == []


def test_code_outside_the_package_uses_only_its_surface() -> None:
    offenders = [f"{path.relative_to(ROOT)}:{line} imports {module} {names}"
                 for path in sources("mock_server", *OUTSIDE) if PACKAGE_DIR not in path.parents
                 for line, module, names in imports(path)
                 if (module != PACKAGE and of_package(module))
                 or (module == PACKAGE and any(name not in mock_server.faults.__all__ for name in names))]
    assert offenders == []


def test_no_fault_module_takes_an_underscore_name_from_another() -> None:
    offenders = []
    for path in sources("mock_server/faults"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        siblings = set()  # names bound to modules of the package (``from . import pages``)
        for line, module, names in imports(path):
            private = [name for name in names if name.startswith("_")]
            if private:
                offenders.append(f"{path.name}:{line} takes {private} from {module}")
            if module == PACKAGE:
                siblings.update(names)
        offenders += [f"{path.name}:{node.lineno} reads {node.value.id}.{node.attr}" for node in ast.walk(tree)
                      if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                      and node.value.id in siblings and node.attr.startswith("_")]
    assert offenders == []
