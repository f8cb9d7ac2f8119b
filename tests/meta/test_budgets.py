"""STYLE B.6 size budgets: module <= 600 lines, function <= 60 code lines, class <= 400 lines.

Never raise a budget to fit the code; a known offender is an ``xfail(strict=True)`` naming it,
so the mark has to go once the offender is split up.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "aioups"
FILES = sorted(PACKAGE_DIR.rglob("*.py"))

MAX_MODULE_LINES = 600
MAX_FUNCTION_CODE_LINES = 60
MAX_CLASS_LINES = 400

#: (check, file) -> why it is over budget today.  Keep this short.
KNOWN_OFFENDERS: dict[tuple[str, str], str] = {}

_NOT_CODE = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
             tokenize.ENCODING, tokenize.ENDMARKER}


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE_DIR.parent).as_posix()


def _cases(check: str) -> list[object]:
    cases: list[object] = []
    for path in FILES:
        reason = KNOWN_OFFENDERS.get((check, _rel(path)))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        cases.append(pytest.param(path, id=_rel(path), marks=marks))
    return cases


def code_lines(source: str) -> set[int]:
    """Line numbers holding code: not blank, not only a comment (multi-line strings count)."""
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in _NOT_CODE:
            lines.update(range(token.start[0], token.end[0] + 1))
    return lines


def function_code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, code: set[int]) -> int:
    """Code lines of the body, docstring excluded (nested functions count towards it too)."""
    body = node.body
    if (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)):
        body = body[1:]
    if not body:
        return 0
    end = node.end_lineno or body[-1].lineno
    return len(code & set(range(body[0].lineno, end + 1)))


def _qualified(tree: ast.Module) -> list[tuple[str, ast.AST]]:
    found: list[tuple[str, ast.AST]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                found.append((name, child))
                walk(child, name + ".")
            else:
                walk(child, prefix)

    walk(tree, "")
    return found


@pytest.mark.parametrize("path", _cases("module"))
def test_module_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_rel(path)} has {lines} lines"


@pytest.mark.parametrize("path", _cases("function"))
def test_function_code_lines(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    code = code_lines(source)
    offenders = [f"{_rel(path)}:{node.lineno} {name}() has {count} code lines"
                 for name, node in _qualified(ast.parse(source))
                 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                 and (count := function_code_lines(node, code)) > MAX_FUNCTION_CODE_LINES]
    assert offenders == []


@pytest.mark.parametrize("path", _cases("class"))
def test_class_lines(path: Path) -> None:
    offenders = []
    for name, node in _qualified(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_CLASS_LINES:
                offenders.append(f"{_rel(path)}:{node.lineno} class {name} has {lines} lines")
    assert offenders == []


def test_known_offenders_exist() -> None:
    # A stale entry for a file that was removed or renamed would silently never be checked.
    files = {_rel(path) for path in FILES}
    assert {file for _, file in KNOWN_OFFENDERS} <= files


def test_code_line_counting() -> None:
    source = '''def f(x):
    """Docstring,
    two lines."""
    # a comment

    y = (x +
         1)  # trailing comment
    s = """a
# not a comment: inside a string
"""
    return y, s
'''
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    assert function_code_lines(node, code_lines(source)) == 6
