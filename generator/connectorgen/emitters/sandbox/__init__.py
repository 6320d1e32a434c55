"""sandbox emitter: a local fake of the API, shipped inside the generated Python package.

Writes `python/<package>/sandbox/`: a starlette ASGI app and uvicorn runner that serve every
operation of the definition on 127.0.0.1 from an in-memory store seeded with realistic data.
`plan.py` derives, from the IR only, the stored collections and one route per method + path with
the handler that serves it (by operation kind, envelope and path shape); that plan, the auth and
error shapes and the schema registry go into the generated `_spec.py`. The other modules are
fixed runtime code: real Python modules under `runtime/`, copied as they are; `templates/` holds
only what varies per connector (jinja2 with `<<[ ]>>` delimiters, so Python braces stay untouched). The sandbox needs the package's `sandbox` extra (starlette, uvicorn, jsonschema,
python-multipart).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from ... import ir
from ...escaping import register
from .plan import build_plan

TEMPLATES = Path(__file__).parent / "templates"
RUNTIME = Path(__file__).parent / "runtime"
#: Modules rendered from `templates/` (what varies per connector).
MODULES = ("__init__", "__main__", "_spec", "options")
#: Modules copied as they are from `runtime/` (real Python, linted with the generator).
RUNTIME_MODULES = (
    "app",
    "handlers",
    "oauth",
    "query",
    "sandbox_data",
    "schemas",
    "seed",
    "server",
    "store",
)
#: The compiled sandbox definition, as JSON data the runtime reads at start.
DATA_FILE = "_sandbox_data.json"
DEFAULT_PORT = 8400


@cache
def _env() -> jinja2.Environment:
    return register(
        jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=False,
            keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined,
            variable_start_string="<<[",
            variable_end_string="]>>",
            block_start_string="<<%",
            block_end_string="%>>",
            comment_start_string="<<#",
            comment_end_string="#>>",
        )
    )


def _url_path(url: str) -> str:
    """The path of a declared URL (template): `https://{subdomain}.x.com/oauth/token` -> `/oauth/token`."""
    return urlsplit(url).path or "/"


def _auth(connector: ir.Connector) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for scheme in connector.auth:
        limit = scheme.rate_limit
        entry: dict[str, Any] = {
            "name": scheme.name,
            "rate_limit": {
                "requests": limit.requests,
                "period_seconds": limit.period_seconds,
                "retry_after_header": limit.retry_after_header,
                "usage_header": limit.usage_header,
                "type": limit.type,
                "limit_header": limit.limit_header,
                "remaining_header": limit.remaining_header,
                "reset_header": limit.reset_header,
                "reset_format": limit.reset_format,
            }
            if limit
            else None,
        }
        if isinstance(scheme, ir.HttpBasicAuth):
            entry.update(
                username_param=scheme.username.param,
                username_env=scheme.username.env,
                password_param=scheme.password.param,
                password_env=scheme.password.env,
                username_template=scheme.username_template,
                fixed_password=scheme.password.fixed,
            )
        elif isinstance(scheme, ir.ApiKeyAuth):
            entry.update(token_param=scheme.key.param, token_env=scheme.key.env, location=scheme.location,
                         key_name=scheme.key_name, prefix=scheme.prefix)
        elif isinstance(scheme, ir.HttpBearerAuth):
            entry.update(token_param=scheme.token.param, token_env=scheme.token.env)
        else:
            entry.update(
                token_param=scheme.access_token.param,
                token_env=scheme.access_token.env,
                # the sandbox serves the authorization server on its own host, at the declared paths
                authorize_path=_url_path(scheme.authorize_url),
                token_path=_url_path(scheme.token_url),
                token_request_encoding=scheme.token_request_encoding,
                scopes=[scope.name for scope in scheme.scopes],
                offline_scope=scheme.offline_scope,
            )
        out[scheme.type] = entry
    return out


def build_spec(connector: ir.Connector) -> dict[str, Any]:
    plan = build_plan(connector)
    return {
        "format": 1,
        "connector": {
            "name": connector.name,
            "title": connector.title,
            "version": connector.version,
            "package": connector.package.import_name,
            "distribution": connector.package.distribution,
            "client_class": connector.package.client_class,
        },
        "env": {"base_url": connector.server.base_url_env},
        "auth": _auth(connector),
        "errors": {
            "schema": connector.errors.schema_name,
            "message_path": list(connector.errors.message_path),
            "field_errors_path": list(connector.errors.field_errors_path or ()) or None,
            "field_errors": _field_errors(connector.errors.field_errors),
        },
        "operations": [op.tool for op in connector.operations],
        "collections": plan["collections"],
        "routes": plan["routes"],
        "schemas": ir.thaw(connector.schemas),
    }


def _spec_literal(spec: dict[str, Any]) -> str:
    text = json.dumps(spec, indent=1, sort_keys=True, ensure_ascii=True)
    if '"""' in text or text.endswith(("\\", '"')):
        raise ValueError("sandbox spec cannot be embedded in a raw string")
    return text


def emit(connector: ir.Connector) -> dict[str, str | bytes]:
    package = connector.package.import_name
    spec = build_spec(connector)
    context = {
        "title": connector.title,
        "package": package,
        "distribution": connector.package.distribution,
        "client_class": connector.package.client_class,
        "default_port": DEFAULT_PORT,
        "spec_json": _spec_literal(spec),
    }
    files: dict[str, str | bytes] = {}
    for module in MODULES:
        text = _env().get_template(f"{module}.py.j2").render(**context)
        files[f"python/{package}/sandbox/{module}.py"] = text
    for module in RUNTIME_MODULES:
        files[f"python/{package}/sandbox/{module}.py"] = _runtime(module)
    files[f"python/{package}/sandbox/{DATA_FILE}"] = sandbox_data(connector)
    return files


def sandbox_data(connector: ir.Connector) -> str:
    """The sandbox definition as JSON (seed collections in the order they are made)."""
    sandbox = connector.sandbox
    data: dict[str, Any] = {"format": 1, "timestamps": {}, "behaviours": {}, "seed": {}}
    if sandbox is not None:
        data.update(
            timestamps=ir.thaw(sandbox.timestamps),
            behaviours=ir.thaw(sandbox.behaviours),
            seed=ir.thaw(sandbox.seed),
        )
    return json.dumps(data, indent=1, ensure_ascii=True) + "\n"


@cache
def _runtime(module: str) -> str:
    return (RUNTIME / f"{module}.py").read_text(encoding="utf-8")


__all__ = ["build_spec", "emit"]


def _field_errors(shape: Any) -> dict[str, Any] | None:
    """The declared field-error shape as plain data (keys that are not declared are left out)."""
    if shape is None:
        return None
    out: dict[str, Any] = {"type": shape.type}
    for key in ("field_key", "message_key", "code_key"):
        if getattr(shape, key):
            out[key] = getattr(shape, key)
    return out
