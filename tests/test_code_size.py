"""No class or function of the package outgrows its limit, and the check would see one that does.

The project keeps classes to about 200 lines and functions to about 50 (README
"Design notes: layers"); the limits here leave a few lines of room so that a
small fix does not force a split. A definition's lines run from its ``class``
or ``def`` line to its last line (decorators not counted); methods and nested
functions are measured on their own as well as inside what holds them.
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "dropscribe"

CLASS_LIMIT = 210
FUNCTION_LIMIT = 55

#: Over its limit today and being split ("module.py:Class"): each entry leaves with its split.
ALLOWED: set[str] = set()


@dataclass(frozen=True)
class Oversized:
    """A class or function over its limit: where it is, and its length in lines."""

    where: str  # "folder/module.py:Class.method"
    lines: int


def oversized(package: Path) -> list[Oversized]:
    """Return every class over CLASS_LIMIT and every function over FUNCTION_LIMIT lines
    in the modules under ``package``, in file order."""
    found: list[Oversized] = []
    for module in sorted(package.rglob("*.py")):
        tree = ast.parse(module.read_text(), filename=str(module))
        where = module.relative_to(package).as_posix()
        found.extend(_oversized_in(tree, f"{where}:"))
    return found


def _oversized_in(node: ast.AST, prefix: str) -> list[Oversized]:
    found: list[Oversized] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (child.end_lineno or child.lineno) - child.lineno + 1
            limit = CLASS_LIMIT if isinstance(child, ast.ClassDef) else FUNCTION_LIMIT
            if lines > limit:
                found.append(Oversized(prefix + child.name, lines))
            found.extend(_oversized_in(child, f"{prefix}{child.name}."))
        else:
            found.extend(_oversized_in(child, prefix))
    return found


def _function(name: str, lines: int, indent: str = "") -> str:
    """The source of a function definition exactly ``lines`` lines long."""
    return f"{indent}def {name}() -> None:\n" + f"{indent}    pass\n" * (lines - 1)


def _class(name: str, lines: int, member: str = "") -> str:
    """The source of a class exactly ``lines`` lines long, ``member`` (indented) first."""
    return f"class {name}:\n" + member + "    x = 1\n" * (lines - 1 - member.count("\n"))


def test_no_class_or_function_of_the_package_is_over_its_limit() -> None:
    too_long = [item for item in oversized(PACKAGE) if item.where not in ALLOWED]
    assert too_long == [], f"split these (limits {CLASS_LIMIT} and {FUNCTION_LIMIT} lines)"


def test_the_allow_list_names_only_what_is_still_over_its_limit() -> None:
    still = {item.where for item in oversized(PACKAGE)}
    assert not ALLOWED - still, f"no longer over the limit, take off ALLOWED: {ALLOWED - still}"


def test_a_function_grown_past_the_limit_in_the_package_is_found(tmp_path: Path) -> None:
    copy = tmp_path / "dropscribe"
    shutil.copytree(PACKAGE, copy)
    grown = copy / "config" / "originals.py"
    grown.write_text(grown.read_text() + "\n\n" + _function("grown", FUNCTION_LIMIT + 1))
    before = oversized(PACKAGE)
    found = [item for item in oversized(copy) if item not in before]
    assert found == [Oversized("config/originals.py:grown", FUNCTION_LIMIT + 1)]


def test_methods_nested_functions_and_classes_are_measured_against_their_limits(
    tmp_path: Path,
) -> None:
    (tmp_path / "sizes.py").write_text(
        _class("Big", CLASS_LIMIT + 1, _function("long_method", FUNCTION_LIMIT + 1, "    "))
        + _class("Fits", CLASS_LIMIT)
        + "def outer() -> None:\n"
        + _function("inner", FUNCTION_LIMIT + 1, "    ")
        + _function("fits", FUNCTION_LIMIT)
    )
    assert oversized(tmp_path) == [
        Oversized("sizes.py:Big", CLASS_LIMIT + 1),
        Oversized("sizes.py:Big.long_method", FUNCTION_LIMIT + 1),
        Oversized("sizes.py:outer", FUNCTION_LIMIT + 2),
        Oversized("sizes.py:outer.inner", FUNCTION_LIMIT + 1),
    ]
