"""Load a logged pair model in a process where alertlens is not importable from the
environment, score records, and print what was used (run by the serving and remote tracking tests).

Usage: python load_without_alertlens.py MODEL RECORDS_JSON (MODEL: a directory or a model URI,
such as ``models:/alertlens-triage-pair@champion`` with MLFLOW_TRACKING_URI set)
Prints one JSON object: the file alertlens was imported from, the answers, and the
third-party distributions the alertlens modules loaded for that import.
"""

import ast
import json
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

# The project's own install (an editable path entry or site-packages) is taken off the path.
sys.path = [entry for entry in sys.path if not (Path(entry or ".") / "alertlens").is_dir()]
model, records = sys.argv[1], json.loads(Path(sys.argv[2]).read_text())
import mlflow.pyfunc  # noqa: E402

answers = mlflow.pyfunc.load_model(model).predict(records, params={"mode": "pair"})


def imports_of(source: Path) -> set[str]:
    """The top-level names a module's code imports (at any depth: lazy imports included)."""
    names = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.partition(".")[0])
    return names


# What alertlens's own loaded modules import; other packages' optional imports of whatever
# happens to be installed are theirs to declare.
owners = packages_distributions()
loaded = [module for name, module in sys.modules.items() if name.partition(".")[0] == "alertlens"]
imported = set().union(*(imports_of(Path(m.__file__)) for m in loaded if m.__file__))
distributions = sorted(
    {
        dist
        for name in imported - {"alertlens"}
        if name not in sys.stdlib_module_names
        for dist in owners.get(name, [])
    }
)
print(
    json.dumps(
        {
            "alertlens_file": sys.modules["alertlens"].__file__,
            "answers": answers,
            "distributions": distributions,
        }
    )
)
