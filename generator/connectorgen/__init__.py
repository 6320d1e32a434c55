"""connectorgen: compile declarative connector definitions into clients, MCP tools, OpenAPI and docs."""

from .pipeline import DEFAULT_DEFINITION, build, validate

__all__ = ["DEFAULT_DEFINITION", "build", "validate"]
__version__ = "0.1.0"
