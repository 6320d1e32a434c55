"""Unified emitter: the unified ticketing / user-directory APIs compiled from `unified_mappings/`.

Writes (only when the connector has a unified API, `Connector.unified`):

- `python/<package>/unified/`: `models.py` (pydantic v2 unified models), `mappers.py` (one plain
  Python function per mapping), `methods.py` (method specs and query planners), `resources.py`
  (`Unified` / `AsyncUnified` and the resource classes), `tools.py` (`invoke_unified`), `_runtime.py`
  (helpers, pagers) and `tools.json` (the unified operations as MCP tool entries);
- `mcp/<connector>.unified.tools.json`: the same tool entries for the MCP server;
- `docs/unified-reference.md`: models, field-by-field mapping tables, supported filters (the docs
  emitter writes the `docs/unified.md` overview).

Reads only the IR.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from ... import ir
from ...escaping import py_docline, register
from .docs import render as render_docs
from .pyapi import Mappers, methods_source, resources_source, tools_source
from .pymodels import models_source
from .toolsjson import dump, tools_document

TEMPLATES = Path(__file__).parent / "templates"


def _package_init(connector: ir.Connector) -> str:
    pkg = connector.package.import_name
    client = connector.package.client_class
    title = py_docline(connector.title)
    return f'''"""Unified ticketing and user-directory APIs over the {title} client.

    from {pkg} import {client}
    from {pkg}.unified import Unified

    unified = Unified({client}())   # credentials and server variables from the environment
    for ticket in unified.ticketing.tickets.list(updated_after="2026-01-01T00:00:00Z"):
        print(ticket.id, ticket.status, ticket.contact)

Records are pydantic models (`{pkg}.unified.models`) keeping the untouched {title} object in
`remote_data`. See docs/unified.md for the field mappings and supported filters.
"""

from ._runtime import (
    AsyncUnifiedPager,
    MappingError,
    SyncUnifiedPager,
    UnifiedPage,
    UnsupportedFilterError,
)
from .models import *  # noqa: F403
from .models import __all__ as _models
from .resources import AsyncUnified, Unified
from .tools import UNIFIED_TOOL_NAMES, ainvoke_unified, invoke_unified, unified_tools

__all__ = [
    "UNIFIED_TOOL_NAMES",
    "AsyncUnified",
    "AsyncUnifiedPager",
    "MappingError",
    "SyncUnifiedPager",
    "Unified",
    "UnifiedPage",
    "UnsupportedFilterError",
    "ainvoke_unified",
    "invoke_unified",
    "unified_tools",
    *_models,
]
'''


def emit(connector: ir.Connector) -> dict[str, str | bytes]:
    api = connector.unified
    if api is None or not api.resources:
        return {}
    from .. import header_line

    base = f"python/{connector.package.import_name}/unified"
    jinja = register(jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                                        undefined=jinja2.StrictUndefined, keep_trailing_newline=True))
    mappers = Mappers(connector, api)
    tools_json = dump(tools_document(connector, api, header_line(connector)))
    return {
        f"{base}/__init__.py": _package_init(connector),
        f"{base}/_runtime.py": jinja.get_template("_runtime.py.j2").render(
            title=connector.title, error_base=f"{connector.package.client_class}Error"
        ),
        f"{base}/models.py": models_source(api, connector.title),
        f"{base}/mappers.py": mappers.source(),
        f"{base}/methods.py": methods_source(connector, api, mappers),
        f"{base}/resources.py": resources_source(connector, api),
        f"{base}/tools.py": tools_source(connector),
        f"{base}/tools.json": tools_json,
        f"mcp/{connector.name}.unified.tools.json": tools_json,
        "docs/unified-reference.md": render_docs(connector, api),
    }
