"""STYLE B.3 layering rules, checked two ways: by importing, and by reading the source.

::

    errors, _types, _uids  <-  pdu  <-  ul  <-  dimse  <-  ups  <-  net  <-  aioups  <-  cli
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "aioups"
ALL_FILES = sorted(PACKAGE_DIR.rglob("*.py"))
CORE_PACKAGES = ("pdu", "ul", "dimse", "ups")  # the sans-IO core (ups once it exists)
CORE_FILES = [path for path in ALL_FILES if path.relative_to(PACKAGE_DIR).parts[0]
              in CORE_PACKAGES]

#: Must not be loaded by importing a core package (the runtime check).
RUNTIME_FORBIDDEN = ("anyio", "trio", "asyncio", "socket", "ssl", "threading", "selectors",
                     "sniffio", "aioups.net")
#: Must not be imported by any core module (the static check).
STATIC_FORBIDDEN = ("anyio", "trio", "asyncio", "socket", "ssl", "threading", "time", "logging",
                    "selectors", "sniffio", "aioups.net")


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE_DIR.parent).as_posix()


# --- runtime: import each core package in a pristine interpreter ------------------------------

# Why a stub parent package: ``import aioups.pdu`` first executes ``aioups/__init__.py``, which
# imports ``aioups.net`` (and so anyio) on purpose; that would hide whatever ``aioups.pdu``
# itself pulls in.  The child process therefore registers an *empty* module object as
# ``aioups``, built from a package ModuleSpec whose ``submodule_search_locations`` is the real
# package directory, without executing ``aioups/__init__.py``.  The import system then finds
# and executes ``aioups/pdu/__init__.py``, ``aioups/errors.py`` etc. from the real files.  This
# is the documented way to create a package module (importlib.util.module_from_spec), so it
# does not rely on import-system internals.
#
# Why ``-I -S``: on this machine site-packages ``.pth`` files import zipfile and therefore
# threading at start-up, which would make "threading not in sys.modules" unfalsifiable.  With
# ``-S`` no ``.pth`` file runs; the site-packages directories are appended to ``sys.path`` by
# hand so a core module could still import a third-party library (pydicom) if it were allowed
# to.  The child also reports what was loaded *before* the import, and the test asserts that
# none of the forbidden modules was, so the check cannot pass vacuously.
_CHILD = r"""
import importlib, importlib.machinery, importlib.util, json, sys
package_dir, target, extra_path = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.extend(extra_path)
before = sorted(sys.modules)
# pydicom (the one third-party library the core may use) loads threading and logging itself:
# what it loads is its business, so it is imported first and its modules are not counted.
import pydicom, pydicom.filereader, pydicom.filewriter  # noqa: E401
third_party = sorted(sys.modules)
spec = importlib.machinery.ModuleSpec("aioups", None, is_package=True)
spec.submodule_search_locations = [package_dir]
stub = importlib.util.module_from_spec(spec)
sys.modules["aioups"] = stub
importlib.import_module(target)
print(json.dumps({"before": before, "third_party": third_party,
                  "after": sorted(set(sys.modules) - set(third_party)),
                  "stub_untouched": not hasattr(stub, "__version__")}))
"""


def _import_in_child(target: str) -> dict[str, object]:
    site_dirs = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _CHILD, str(PACKAGE_DIR), target,
         json.dumps(site_dirs)],
        capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def _loaded(modules: object, names: tuple[str, ...]) -> list[str]:
    assert isinstance(modules, list)
    return sorted(m for m in modules
                  for name in names if m == name or m.startswith(name + "."))


@pytest.mark.parametrize("package", ["aioups.pdu", "aioups.ul", "aioups.dimse"])
def test_core_package_imports_no_io(package: str) -> None:
    result = _import_in_child(package)
    assert result["stub_untouched"], "aioups/__init__.py ran: the stub did not take effect"
    assert _loaded(result["before"], RUNTIME_FORBIDDEN) == []  # the check can fail
    assert package in result["after"]  # type: ignore[operator]
    assert _loaded(result["after"], RUNTIME_FORBIDDEN) == []


def test_runtime_check_detects_io_imports() -> None:
    # Positive control: the same harness does see anyio when importing the driver.
    result = _import_in_child("aioups.net")
    assert "anyio" in _loaded(result["after"], RUNTIME_FORBIDDEN)


# --- static: read every import statement --------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One imported module, as an absolute dotted name."""

    module: str
    line: int
    type_checking: bool  # inside ``if TYPE_CHECKING:``


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _is_aioups_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    base = PACKAGE_DIR / relative
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path: Path) -> Iterator[Import]:
    """Every module a file imports; ``from pkg import sub`` also yields ``pkg.sub``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST, type_checking: bool) -> Iterator[Import]:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from visit(child, True)
            for child in node.orelse:
                yield from visit(child, type_checking)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno, type_checking)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            yield Import(base, node.lineno, type_checking)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if base.split(".")[0] == "aioups" and _is_aioups_module(sub):
                    yield Import(sub, node.lineno, type_checking)
        for sub_node in ast.iter_child_nodes(node):
            yield from visit(sub_node, type_checking)

    yield from visit(ast.parse(path.read_text(encoding="utf-8")), False)


def _matches(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("path", CORE_FILES, ids=_rel)
def test_core_module_imports_no_io(path: Path) -> None:
    bad = [f"line {imp.line}: {imp.module}" for imp in imports_of(path)
           if _matches(imp.module, STATIC_FORBIDDEN)]
    assert bad == []


#: Layers from left (lowest) to right; ``aioups`` alone is the public facade (__init__.py).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("aioups.errors", "aioups._types", "aioups._uids"),
    ("aioups.pdu",),
    ("aioups.ul",),
    ("aioups.dimse",),
    ("aioups.ups",),
    ("aioups.net",),
    ("aioups",),
    ("aioups.loadtest",),
    ("aioups.cli",),
    ("aioups.__main__",),
)


def layer_of(module: str) -> int:
    """The index in LAYERS of an aioups module (the facade ``aioups`` matches only itself)."""
    for index, prefixes in enumerate(LAYERS):
        if module in prefixes or (prefixes != ("aioups",) and _matches(module, prefixes)):
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def _unit(module: str) -> str:
    """The package a module belongs to; the base layer counts as one unit."""
    if layer_of(module) == 0:
        return "base"
    return ".".join(module.split(".")[:2])


@pytest.mark.parametrize("path", ALL_FILES, ids=_rel)
def test_layer_order(path: Path) -> None:
    me = module_name(path)
    mine = layer_of(me)
    bad = []
    for imp in imports_of(path):
        if imp.module.split(".")[0] != "aioups" or imp.module == me:
            continue
        theirs = layer_of(imp.module)
        if theirs > mine or (theirs == mine and _unit(imp.module) != _unit(me)):
            bad.append(f"line {imp.line}: {me} (layer {mine}) imports {imp.module} "
                       f"(layer {theirs})")
    assert bad == []


@pytest.mark.parametrize("path", ALL_FILES, ids=_rel)
def test_no_reaching_into_other_packages_privates(path: Path) -> None:
    # Cross-layer imports go through the subpackage __init__, never another's ``_module``.
    me = module_name(path)
    bad = []
    for imp in imports_of(path):
        parts = imp.module.split(".")
        if parts[0] != "aioups" or len(parts) < 3 or not parts[2].startswith("_"):
            continue
        if parts[:2] != me.split(".")[:2]:
            bad.append(f"line {imp.line}: {imp.module}")
    assert bad == []


def test_errors_imports_nothing_from_aioups() -> None:
    imported = [imp.module for imp in imports_of(PACKAGE_DIR / "errors.py")]
    assert [m for m in imported if m.split(".")[0] == "aioups"] == []


@pytest.mark.parametrize("path", sorted((PACKAGE_DIR / "cli").rglob("*.py")), ids=_rel)
def test_cli_uses_public_api_only(path: Path) -> None:
    # B.3: cli may import the public API only (aioups, its public subpackages, never their
    # private modules), anyio, the standard library, and the optional cryptography (PKCS#12)
    # and rich (load progress).
    bad = []
    for imp in imports_of(path):
        parts = imp.module.split(".")
        if parts[0] == "aioups":
            ok = _matches(imp.module, ("aioups.cli",)) or (
                len(parts) <= 2 and not any(p.startswith("_") for p in parts))
        else:
            ok = parts[0] in ("anyio", "cryptography", "rich") or \
                parts[0] in sys.stdlib_module_names
        if not ok:
            bad.append(f"line {imp.line}: {imp.module}")
    assert bad == []


def test_pydicom_imported_by_at_most_one_module() -> None:
    runtime: list[str] = []
    type_only: list[str] = []
    for path in ALL_FILES:
        for imp in imports_of(path):
            if _matches(imp.module, ("pydicom",)):
                (type_only if imp.type_checking else runtime).append(_rel(path))
    runtime = sorted(set(runtime))
    assert len(runtime) <= 1, runtime
    assert set(runtime) <= {"aioups/dimse/_dataset.py"}, runtime
    # Type-only imports (under TYPE_CHECKING) are allowed in ups, nowhere else.
    assert [p for p in type_only if not p.startswith("aioups/ups/")] == []


def test_never_imports_pynetdicom() -> None:
    bad = [f"{_rel(path)}:{imp.line}" for path in ALL_FILES for imp in imports_of(path)
           if _matches(imp.module, ("pynetdicom",))]
    assert bad == []


def test_import_resolution_sanity() -> None:
    # Guards the resolver the static checks rely on, on files whose imports are known.
    server = {imp.module for imp in imports_of(PACKAGE_DIR / "net" / "_server.py")}
    assert {"anyio", "aioups.dimse", "aioups.ul", "aioups._uids", "aioups.net._association",
            "aioups.net._dispatch"} <= server
    cli = {imp.module for imp in imports_of(PACKAGE_DIR / "cli" / "__init__.py")}
    assert {"aioups.cli._upsscu", "aioups.cli._demo", "aioups.cli._common"} <= cli
    dispatch = {(imp.module, imp.type_checking)
                for imp in imports_of(PACKAGE_DIR / "net" / "_dispatch.py")}
    assert ("aioups.net._association", True) in dispatch  # under `if TYPE_CHECKING:`
    assert ("aioups.dimse", False) in dispatch
