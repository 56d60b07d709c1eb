"""The layout's import rules (DESIGN.md): each folder imports only what it may."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"api", "serving", "models", "features", "pipelines", "experiments", "dashboards"}
MAY_IMPORT = {
    "api": {"api", "serving", "dashboards"},
    "serving": {"serving", "models", "features"},
    "models": {"models"},
    "features": {"features"},
    "pipelines": {"pipelines", "features", "models", "experiments"},
    "experiments": {"experiments", "models"},
    "dashboards": {"dashboards", "models"},
}
# The one clock (DESIGN.md "One clock") lives in the bottom layer, `models/clock.py`, which imports nothing, so
# that serving, pipelines and the app ask the same clock; it is the one module of `models` the app imports.
SHARED_MODULES = {"models.clock"}
HEAVY = {"mlflow", "feast", "prefect", "evidently", "torch"}
# The CLI is the composition root: it reaches pipelines and experiments lazily, inside commands.
LAZY_ENTRY_POINTS = {"api/cli.py"}


def _imports(path: Path, top_level_only: bool = False):
    """The top-level package of each import (modules of SHARED_MODULES are not counted)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name not in SHARED_MODULES:
                    yield alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = {f"{node.module}.{alias.name}" for alias in node.names}
            if node.module not in SHARED_MODULES and not names <= SHARED_MODULES:
                yield node.module.split(".")[0]


def _python_files(folder: str):
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("folder", sorted(MAY_IMPORT))
def test_folder_imports_only_what_it_may(folder):
    offenders = []
    for path in _python_files(folder):
        relative = path.relative_to(ROOT).as_posix()
        if relative in LAZY_ENTRY_POINTS:
            continue
        for module in _imports(path):
            if module in OURS and module not in MAY_IMPORT[folder]:
                offenders.append(f"{relative} imports {module}")
    assert not offenders, offenders


def test_app_modules_import_no_heavy_ml_library_at_module_level():
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in _python_files("api")
        for module in _imports(path, top_level_only=True)
        if module in HEAVY
    ]
    assert not offenders, offenders


def test_models_package_has_no_web_or_database_dependency():
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in _python_files("models")
        for module in _imports(path, top_level_only=True)
        if module in {"flask", "sqlalchemy", "flask_sqlalchemy", "mlflow"} and path.name != "mlflow_wrapper.py"
    ]
    assert not offenders, offenders


# Reading the system clock as business time outside `clock` (DESIGN.md "One clock"); each exception says why.
SYSTEM_CLOCK_CALLS = ("datetime.now(", "datetime.utcnow(", "date.today(")
MACHINE_TIME = {  # these measure the machine, not the business: they stay on the system clock
    "api/admin/modelsettings.py": "the retraining log's file name",
    "pipelines/offline.py": "partition file names and how long the export waits for ids that commit late",
    "api/bookings/calendar_sync.py": "OAuth token expiry, which Google's client checks against the machine's clock",
    "api/benchmarks/search.py": "benchmarks seed for a server process that runs on the system clock",
    "api/benchmarks/serving.py": "benchmarks seed for a server process that runs on the system clock",
}


def test_business_time_comes_from_the_one_clock():
    offenders = []
    for folder in ("api", "serving", "pipelines", "experiments", "dashboards"):  # models/clock.py is the clock
        for path in _python_files(folder):
            relative = path.relative_to(ROOT).as_posix()
            if relative in MACHINE_TIME:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if any(call in line for call in SYSTEM_CLOCK_CALLS):
                    offenders.append(f"{relative}:{number}: {line.strip()} (ask clock.now() / clock.today())")
    assert not offenders, offenders
