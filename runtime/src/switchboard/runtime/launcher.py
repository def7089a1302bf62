"""Finding and loading the local Kafka launcher, ``deploy/kafka/launcher.py``.

The launcher must stay runnable by a bare interpreter (``make kafka``), so it is not a package; the CLI,
the test fixtures and the benchmarks load it by path, once per process, through here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

MODULE_NAME = "switchboard_kafka_launcher"
RELATIVE_PATH = Path("deploy") / "kafka" / "launcher.py"


def find_repo_root(start: Path | None = None) -> Path | None:
    """The Switchboard checkout holding ``start`` (default: the working directory), if any."""
    here = (start or Path.cwd()).resolve()
    for folder in [here, *here.parents]:
        if (folder / RELATIVE_PATH).exists():
            return folder
    return None


def load_kafka_launcher(root: Path | None = None) -> ModuleType:
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    root = root or find_repo_root()
    if root is None:
        raise FileNotFoundError(f"{RELATIVE_PATH} not found: run this from the Switchboard repository")
    spec = importlib.util.spec_from_file_location(MODULE_NAME, root / RELATIVE_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {root / RELATIVE_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module
