"""Fixtures for the sandbox tests: the generated sandbox started in a thread on a free port.

The sandbox is generated code (`generated/gorgias/python/gorgias/sandbox`); these tests import it from the
installed generated package, or from `generated/gorgias/python` when it is not installed.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATED_PYTHON = REPO_ROOT / "generated" / "gorgias" / "python"

if str(GENERATED_PYTHON) not in sys.path and (GENERATED_PYTHON / "gorgias").is_dir():
    sys.path.append(str(GENERATED_PYTHON))


def sandbox_module() -> Any:
    """The generated `gorgias.sandbox` package (installed by the README's test command)."""
    return importlib.import_module("gorgias.sandbox")


EMAIL = "sandbox@example.com"
API_KEY = "sandbox"


def start(**options: Any) -> Any:
    """A sandbox on a free port; rate limit off unless asked for, quiet."""
    options.setdefault("rate_limit", "off")
    return sandbox_module().serve_in_thread(**options)


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    """One sandbox per test module (seed 1, no rate limit, no faults)."""
    handle = start(seed=1)
    yield handle
    handle.stop()


@pytest.fixture
def fresh() -> Iterator[Any]:
    """A sandbox of its own for tests that change data or need particular options."""
    handles: list[Any] = []

    def make(**options: Any) -> Any:
        handle = start(**options)
        handles.append(handle)
        return handle

    yield make
    for handle in handles:
        handle.stop()


def client_for(handle: Any, **kwargs: Any) -> Any:
    from gorgias import Gorgias

    kwargs.setdefault("rate_limit", False)
    kwargs.setdefault("retry_initial_delay", 0.01)
    kwargs.setdefault("retry_max_delay", 0.05)
    return Gorgias(base_url=handle.base_url, email=EMAIL, api_key=API_KEY, **kwargs)
