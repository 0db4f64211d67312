"""The tree drawn in the errors module's docstring is the real one, and the only one.

Every exception class the package defines is in that tree, and the package
raises no bare built-in exception: an AST scan of every module finds both.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import n2net_privacy
from n2net_privacy import errors

# A tree row: its glyphs, a class name, then its note. The root has no glyphs.
_ROW = re.compile(r"^(?P<indent>[ │]*[├└]── )?(?P<name>[A-Z]\w+)(?:\s+(?P<note>.*))?$")
_PACKAGE = Path(n2net_privacy.__file__).parent


def _drawn() -> list[tuple[int, str, str]]:
    rows = []
    for line in (errors.__doc__ or "").splitlines():
        match = _ROW.match(line.removeprefix("    "))
        if match and (match["indent"] or match["name"] == "N2NetPrivacyError"):
            rows.append((len(match["indent"] or ""), match["name"], match["note"] or ""))
    return rows


def test_every_error_is_drawn_once() -> None:
    names = [name for _, name, _ in _drawn()]
    assert sorted(names) == sorted(errors.__all__)


def test_each_drawn_parent_is_the_real_base() -> None:
    stack: list[tuple[int, str]] = []
    for depth, name, _ in _drawn():
        while stack and stack[-1][0] >= depth:
            stack.pop()
        cls = getattr(errors, name)
        if stack:
            assert issubclass(cls, getattr(errors, stack[-1][1])), name
        else:
            assert cls is errors.N2NetPrivacyError
        stack.append((depth, name))


@pytest.mark.parametrize(("name", "builtin"), [(n, b) for _, n, note in _drawn()
                                               for b in (TypeError, ValueError, RuntimeError)
                                               if f"also a {b.__name__}" in note])
def test_the_also_notes_hold(name: str, builtin: type[Exception]) -> None:
    assert issubclass(getattr(errors, name), builtin)


def test_the_argument_errors_are_the_builtins_python_code_expects() -> None:
    assert issubclass(errors.InvalidArgumentTypeError, TypeError)
    assert issubclass(errors.InvalidArgumentError, ValueError)
    assert issubclass(errors.InvalidUrlError, errors.EgressPolicyError)
    assert issubclass(errors.InvalidUrlError, ValueError)
    closed = errors.ClosedError("Uploader")
    assert closed.name == "Uploader" and "Uploader is closed" in str(closed)


def test_storage_trouble_is_not_configuration() -> None:
    assert not issubclass(errors.StorageError, errors.ConfigurationError)
    assert issubclass(errors.StorageError, errors.N2NetPrivacyError)


# --- every exception class in the package is in the tree --------------------------

def _modules() -> list[tuple[str, Path, ast.Module]]:
    found = []
    for path in sorted(_PACKAGE.rglob("*.py")):
        parts = path.relative_to(_PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path, ast.parse(path.read_text(encoding="utf-8"))))
    return found


_MODULES = _modules()
#: Modules not imported here: their extra may be missing, and locust monkey-patches on import.
_NOT_IMPORTED = {"n2net_privacy.audit.mitm_addon", "n2net_privacy.testing.load.locust"}


def _caught_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            for part in ast.walk(node.type):
                if isinstance(part, ast.Name):
                    names.add(part.id)
    return names


def _exception_classes() -> list[tuple[str, str, type[BaseException]]]:
    classes = []
    for module_name, _, tree in _MODULES:
        defined = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
        if not defined:
            continue
        if module_name in _NOT_IMPORTED:
            # Judge its classes by their written bases.
            classes.extend(
                (module_name, n.name, Exception) for n in tree.body
                if isinstance(n, ast.ClassDef)
                and any(ast.unparse(b).endswith(("Error", "Exception")) for b in n.bases)
            )
            continue
        module = importlib.import_module(module_name)
        for name in defined:
            cls = getattr(module, name)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                classes.append((module_name, name, cls))
    return classes


def test_the_scan_finds_the_tree_itself() -> None:
    found = {name for module, name, _ in _exception_classes() if module == "n2net_privacy.errors"}
    assert found == set(errors.__all__)


def test_every_public_exception_class_is_defined_in_the_tree() -> None:
    outside = [f"{module}.{name}" for module, name, _ in _exception_classes()
               if module != "n2net_privacy.errors" and not name.startswith("_")]
    assert outside == [], "define these in n2net_privacy/errors.py and draw them there"


def test_a_private_exception_never_leaves_its_module() -> None:
    # A private class is control flow: the module that defines it must catch it.
    escaping = []
    for _, path, tree in _MODULES:
        caught = _caught_names(tree)
        for node in tree.body:
            if not (isinstance(node, ast.ClassDef) and node.name.startswith("_")):
                continue
            bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
            is_exception = bases & {"Exception", "BaseException"} or any(
                b.endswith("Error") for b in bases
            )
            if is_exception and node.name not in caught:
                escaping.append(f"{path.name}: {node.name}")
    assert escaping == []


def test_old_import_locations_still_give_the_same_classes() -> None:
    from n2net_privacy.audit.destinations import DestinationPolicyError
    from n2net_privacy.audit.har import HarError
    from n2net_privacy.cli._output import OutputError, OutputExistsError
    from n2net_privacy.contacts.vcard_lines import VCardSyntaxError
    from n2net_privacy.testing.conformance import CheckFailed, CheckSkipped

    assert (DestinationPolicyError, HarError, OutputError, OutputExistsError) == (
        errors.DestinationPolicyError, errors.HarError, errors.OutputError,
        errors.OutputExistsError,
    )
    assert (VCardSyntaxError, CheckFailed, CheckSkipped) == (
        errors.VCardSyntaxError, errors.CheckFailed, errors.CheckSkipped,
    )


def test_a_vcard_syntax_error_is_an_address_book_error_that_quotes_no_value() -> None:
    exc = errors.VCardSyntaxError("not a vCard content line", 7, card=2)
    assert isinstance(exc, errors.AddressBookError)
    assert (exc.reason, exc.line, exc.card, exc.location) == (
        "not a vCard content line", 7, 2, "card 2 (line 7)",
    )


# --- no bare built-in exception is raised from the SDK -----------------------------

_BARE = {
    "Exception", "BaseException", "TypeError", "ValueError", "RuntimeError", "KeyError",
    "IndexError", "LookupError", "OSError", "IOError", "AttributeError", "AssertionError",
    "NotImplementedError", "ArithmeticError", "ZeroDivisionError", "OverflowError",
}

# (module, enclosing function, exception) -> why the built-in is the right one.
_ALLOWED = {
    ("n2net_privacy._deprecated", "resolve", "AttributeError"):
        "the packages' module __getattr__ (PEP 562, built by lazy_names()) for an unknown name",
    ("n2net_privacy._deprecated", "moved_names", "AttributeError"):
        "the same raise, seen from the function that builds that resolver",
    ("n2net_privacy.audit.spool", "__getitem__", "IndexError"):
        "the Sequence protocol ends iteration on IndexError",
    ("n2net_privacy.audit.auditor", "assert_no_pii", "AssertionError"):
        "a test assertion: pytest reports AssertionError as a failure, not an error",
    ("n2net_privacy.testing.plugin", "pytest_runtest_call", "AssertionError"):
        "the pytest plugin fails a test the way an assert does",
    ("n2net_privacy.testing.servers.loopback", "_route", "NotImplementedError"):
        "an abstract method each server overrides",
    ("n2net_privacy.contacts.model", "_no_control_chars", "ValueError"):
        "a pydantic validator: pydantic turns ValueError into a ValidationError",
    ("n2net_privacy.scenario.model", "_check_region", "ValueError"):
        "called only from the region field_validator (pydantic wraps it)",
    ("n2net_privacy.contacts.model", "*", "ValueError"):
        "pydantic validators (pydantic wraps ValueError into ValidationError)",
    ("n2net_privacy.scenario.model", "*", "ValueError"):
        "pydantic validators (pydantic wraps ValueError into ValidationError)",
    ("n2net_privacy.uploader.wire.models", "*", "ValueError"):
        "pydantic validators (pydantic wraps ValueError into ValidationError)",
}


def _bare_raises() -> list[tuple[str, str, str, int]]:
    found = []
    for module_name, _, tree in _MODULES:
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if not (isinstance(node, ast.Raise) and node.exc is not None):
                    continue
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if isinstance(target, ast.Name) and target.id in _BARE:
                    found.append((module_name, func.name, target.id, node.lineno))
    return found


def _is_validator(module_name: str, function: str) -> bool:
    tree = next(tree for name, _, tree in _MODULES if name == module_name)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            decorators = {ast.unparse(d).split("(")[0] for d in node.decorator_list}
            if decorators & {"field_validator", "model_validator"}:
                return True
            # A plain function used through Annotated[..., AfterValidator(f)].
            source = ast.unparse(tree)
            return any(f"{kind}Validator({function})" in source for kind in ("After", "Before"))
    return False


def test_no_bare_builtin_exception_is_raised() -> None:
    offenders = []
    for module_name, function, exc, line in _bare_raises():
        if (module_name, function, exc) in _ALLOWED:
            continue
        if (module_name, "*", exc) in _ALLOWED and _is_validator(module_name, function):
            continue
        offenders.append(f"{module_name}:{line} {function}() raises {exc}")
    assert offenders == [], "raise a class from n2net_privacy.errors (or checks.py) instead"


def test_the_scan_sees_a_bare_raise() -> None:
    tree = ast.parse("def f():\n    raise ValueError('x')\n")
    raises = [n for n in ast.walk(tree) if isinstance(n, ast.Raise)]
    assert isinstance(raises[0].exc, ast.Call) and ast.unparse(raises[0].exc.func) in _BARE
