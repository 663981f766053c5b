"""The workflow package stands alone: its imports, its window kinds and its hook registry."""
from __future__ import annotations

import ast
import datetime as dt
import typing
from pathlib import Path

import pytest

import workflow
from bot.composition import build_hooks
from workflow.calendar import DEFAULT_CALENDAR_FILE, SchoolCalendar
from workflow.hooks import BaseStepHook, HookRegistry, StepHook
from workflow.registry import default_specs
from workflow.spec import code_key
from workflow.windows import Window, _WindowBase, resolve

PACKAGE = Path(workflow.__file__).parent
FORBIDDEN = ("bot", "handlers", "tests")


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (function-local imports count too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def test_workflow_imports_only_models_and_libraries():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) >= 10
    bad = [f"{p.relative_to(PACKAGE.parent)}:{line} imports {mod}"
           for p in files for line, mod in _imported_modules(p) if mod.split(".")[0] in FORBIDDEN]
    assert bad == []


def test_every_workflow_module_is_short():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def test_every_window_kind_resolves_itself():
    """A kind without its own spans would only fail when a spec used it; catch it here."""
    kinds = typing.get_args(typing.get_args(Window)[0])
    assert len(kinds) == 8
    assert [k.__name__ for k in kinds if "spans" not in k.__dict__] == []
    assert all(issubclass(k, _WindowBase) for k in kinds)


def test_windows_resolve_through_the_calendar_protocol_alone():
    """resolve() needs nothing but the TeachingCalendar members, so another 校历 can stand in."""
    real = SchoolCalendar.load(DEFAULT_CALENDAR_FILE)

    class OnlyTheProtocol:
        years, semesters = real.years, real.semesters

        def workdays_before(self, d: dt.date, n: int) -> dt.date:
            return real.workdays_before(d, n)

    start, end = dt.date(2026, 9, 1), dt.date(2027, 8, 31)
    for spec in default_specs().values():
        for window in spec.windows:
            assert resolve(window, OnlyTheProtocol(), start, end) == real.resolve(window, start, end), spec.code


class _Record(BaseStepHook):
    allow_empty_sheet = True


def test_hook_registry_is_filled_explicitly():
    hooks = HookRegistry({"record": _Record()})
    assert "record" in hooks and hooks.names() == {"record"} and len(hooks) == 1
    assert isinstance(hooks.get("record"), _Record) and hooks.get("record").allow_empty_sheet
    assert hooks.get(None) is None and hooks.get("") is None and hooks.get("unknown") is None
    with pytest.raises(ValueError, match="already registered"):
        hooks.add("record", _Record())
    with pytest.raises(TypeError, match="does not implement StepHook"):
        hooks.add("broken", object())
    assert HookRegistry().names() == set()  # a new registry starts empty: nothing registers on import


def test_hook_registry_names_every_step_whose_handler_is_missing():
    specs = default_specs()
    used = {s.handler for spec in specs.values() for f in spec.all_flows() for s in f.steps if s.handler}
    assert len(used) >= 5
    missing = HookRegistry().check(specs)
    assert len(missing) >= len(used)
    assert any(line.startswith("1.6 ") and "field handler" in line and "workload_check" in line for line in missing)
    full = HookRegistry({name: _Record() for name in used})
    assert full.check(specs) == []


def test_the_shipped_hooks_fulfil_the_contract():
    hooks = build_hooks()
    assert len(hooks) >= 7 and all(isinstance(hooks.get(n), StepHook) for n in hooks)
    assert hooks.check(default_specs()) == []


def test_codes_sort_numerically_and_odd_ones_last():
    assert sorted(["2.1", "1.10", "x.1", "1.9", "1..2"], key=code_key)[:3] == ["1.9", "1.10", "2.1"]
    assert code_key("1..2") == code_key("x.1") == (10**6,)  # never raises
