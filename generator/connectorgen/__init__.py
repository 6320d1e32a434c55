"""connectorgen: compile declarative connector definitions into clients, MCP tools, OpenAPI and docs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pipeline import build, validate

__all__ = ["build", "validate"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `connectorgen.cli` starts without loading the whole pipeline.
    if name in __all__:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
