"""connectorgen: compile declarative connector definitions into clients, MCP tools, OpenAPI and docs."""

from .pipeline import build, validate

__all__ = ["build", "validate"]
__version__ = "0.1.0"
