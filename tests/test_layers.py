"""The floor plan holds: imports go one way (ground → models → app → reports → views → ops, `.importlinter`),
a planted back-edge is caught, and function-local imports of project modules are few and each gives its reason."""
import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("ground", "models", "app", "reports", "views", "ops")
PROJECT = {*LAYERS, "config", "server"}
LOCAL_IMPORT_LIMIT = 10


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--config", str(cwd / ".importlinter")]
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_imports_go_one_way():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_planted_back_edge_breaks_the_contract(tmp_path):
    for package in LAYERS:
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "static", "templates", "*.html"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    clock = tmp_path / "ground" / "clock.py"
    clock.write_text(clock.read_text() + "\n\ndef _planted():\n    from views import grants  # noqa: F401\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "ground is not allowed to import views" in result.stdout


def _function_local_imports():
    """(file, line, module, source line) of every import of a project module inside a function."""
    found = []
    for package in (*LAYERS, "server.py", "config.py"):
        paths = [ROOT / package] if package.endswith(".py") else sorted((ROOT / package).rglob("*.py"))
        for path in paths:
            source = path.read_text()
            lines = source.splitlines()
            for function in ast.walk(ast.parse(source)):
                if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(function):
                    if isinstance(node, ast.Import):
                        modules = [alias.name for alias in node.names]
                    elif isinstance(node, ast.ImportFrom):
                        modules = ["." if node.level else (node.module or "")]
                    else:
                        continue
                    for module in modules:
                        if module == "." or module.split(".")[0] in PROJECT:
                            found.append((str(path.relative_to(ROOT)), node.lineno, module,
                                          lines[node.end_lineno - 1]))
    return sorted(set(found))


def test_function_local_imports_are_few_and_give_their_reason():
    found = _function_local_imports()
    assert len(found) <= LOCAL_IMPORT_LIMIT, "\n".join(f"{f}:{n} {m}" for f, n, m, _ in found)
    unexplained = [f"{f}:{n}" for f, n, _m, line in found if "# reason:" not in line]
    assert not unexplained, f"say why on the line (# reason: …): {unexplained}"
