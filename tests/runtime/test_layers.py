"""Dependencies run one way, modules stay short, and nothing hides a cycle in a function.

The contract itself is ``.importlinter`` (run by ``lint-imports``); these tests run it,
prove it catches a back-edge, and check that every bot module sits in exactly one tier.
"""
from __future__ import annotations

import ast
import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "workflow", "models")
CONFIG = ROOT / ".importlinter"
# The composition root: the only modules that may wire every tier together.
COMPOSITION_ROOT = {"bot.app", "bot.cli", "bot.cli_calendar", "bot.cli_timetable", "bot.composition"}


def _lint_imports() -> str:
    found = shutil.which("lint-imports") or shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("lint-imports is not installed (pip install -e '.[test]' brings import-linter)")
    return found


def _run_lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([_lint_imports(), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def _contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(CONFIG, encoding="utf-8")
    return parser


def _listed(section: str, key: str) -> set[str]:
    return {line.strip() for line in _contracts()[f"importlinter:contract:{section}"][key].splitlines() if line.strip()}


def test_the_import_contracts_hold():
    result = _run_lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


BACK_EDGES = [  # (file, the wrong import appended to it, the contract that must break)
    ("bot/outbox.py", "import handlers.workflows", "runtime"),
    ("workflow/engine.py", "import bot.core", "workflow"),
    ("models/base.py", "import workflow.spec", "lower"),
    ("handlers/uploads.py", "import bot.platforms.wecom", "handlers"),
    ("bot/platforms/devchat/__init__.py", "import handlers.notices", "platforms"),
    ("bot/reminders/kinds.py", "import bot.composition", "runtime"),
]


@pytest.mark.parametrize("path, line, contract", BACK_EDGES, ids=[p for p, _, _ in BACK_EDGES])
def test_the_contract_catches_a_back_edge(tmp_path, path, line, contract):
    """A copy of the code with one import the wrong way round must break exactly that contract."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CONFIG, tmp_path / ".importlinter")
    assert _run_lint(tmp_path).returncode == 0  # the copy is as clean as the original
    target = tmp_path / path
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # a back-edge\n", encoding="utf-8")
    result = _run_lint(tmp_path)
    assert result.returncode != 0, result.stdout
    said = " ".join(result.stdout.split())  # contract names wrap across lines
    name = " ".join(_contracts()[f"importlinter:contract:{contract}"]["name"].split())
    assert f"{name} BROKEN" in said, result.stdout


def _bot_modules() -> set[str]:
    """Every module and package directly under bot/ (a package counts as one)."""
    out = set()
    for p in (ROOT / "bot").iterdir():
        if p.suffix == ".py" and p.stem != "__init__":
            out.add(f"bot.{p.stem}")
        elif p.is_dir() and (p / "__init__.py").exists():
            out.add(f"bot.{p.name}")
    return out


def test_every_bot_module_is_in_exactly_one_tier():
    """A new bot module must be placed (runtime, page, platform or root), so no contract misses it."""
    runtime = {m for m in _listed("runtime", "source_modules") if not m.startswith("bot.platforms")}
    pages = _listed("pages", "source_modules")
    tiers = {"root": COMPOSITION_ROOT, "runtime": runtime, "pages": pages, "platforms": {"bot.platforms"}}
    placed = [m for members in tiers.values() for m in members]
    assert len(placed) == len(set(placed)), "a module is in two tiers"
    assert set(placed) == _bot_modules(), "place every bot module in .importlinter (and here for the root)"
    # Nothing below the root may import the root, and the runtime none of the tiers above it.
    for section in ("runtime", "handlers", "platforms", "pages"):
        assert COMPOSITION_ROOT <= _listed(section, "forbidden_modules"), section
    assert {"handlers", "bot.platforms"} | pages <= _listed("runtime", "forbidden_modules")
    assert "handlers" in _listed("platforms", "forbidden_modules")
    assert "bot.platforms" in _listed("handlers", "forbidden_modules")


def _python_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_is_over_400_lines():
    files = _python_files()
    assert len(files) > 80
    long = {str(p.relative_to(ROOT)): n for p in files if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def _local_imports(tree: ast.AST) -> list[int]:
    """Line numbers of imports inside a function body (``if TYPE_CHECKING:`` blocks at module level are fine)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines += [n.lineno for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return sorted(set(lines))


def test_no_function_local_imports():
    """An import inside a function is how a cycle hides; with one-way layers none is needed."""
    found = {str(p.relative_to(ROOT)): lines for p in _python_files()
             if "migrations" not in p.parts and (lines := _local_imports(ast.parse(p.read_text(encoding="utf-8"))))}
    assert found == {}


def test_the_local_import_check_sees_one():
    tree = ast.parse("import os\n\ndef f():\n    from bot import core\n    return core\n")
    assert _local_imports(tree) == [4]
