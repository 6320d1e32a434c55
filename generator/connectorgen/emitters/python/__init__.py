"""Python client emitter: `generated/<connector>/python/`, an installable distribution of the connector's client.

The runtime modules that are the same for every connector (`_base`, `_errors`, `_model`,
`_pagination`, `_ratelimit`, `_types`, `_version`) are real Python files in `runtime/`, copied
as they are (and linted and type-checked as such); they read the connector's facts from `_spec.py`,
a small module rendered from the IR. The rest is rendered from the IR with jinja2 templates in
`templates/` (one per concern): `_client`, `_auth`, the routing table `_operations.py`, one module
per resource, and `models.py` from the schema registry through datamodel-code-generator (see
`models.py` in this package).

Templates are looked up first in an optional override folder (`emit(connector, template_dir=...)`),
then in the bundled `templates/` folder (a jinja2 ChoiceLoader), so a connector can replace one
concern without forking the emitter.
"""

from __future__ import annotations

import json
import keyword
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from ... import ir
from ...escaping import py_docline, py_docstring, py_str, register
from .models import generate_models
from .typemap import _split_union, path_param_type, python_type, response_type

TEMPLATES = Path(__file__).parent / "templates"
RUNTIME = Path(__file__).parent / "runtime"
#: Request-id headers every client looks for after the connector's declared ones.
GENERIC_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "cf-ray")
ROOT = "python"


# --- filters -------------------------------------------------------------------------------------


def _pyrepr(value: Any) -> str:
    if isinstance(value, ir.FrozenDict):
        value = ir.thaw(value)
    if isinstance(value, tuple):
        inner = ", ".join(_pyrepr(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_pyrepr(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_pyrepr(k)}: {_pyrepr(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return py_str(value)
    return repr(value)


def _num(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _wrap(text: str, width: int = 96) -> str:
    return textwrap.fill(" ".join(str(text).split()), width=width)


def environment(template_dir: Path | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if template_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(template_dir)))
    loaders.append(jinja2.FileSystemLoader(str(TEMPLATES)))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(pyrepr=_pyrepr, num=_num, wrap=_wrap)
    return register(env)


# --- context -------------------------------------------------------------------------------------


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _trusted_domains(connector: ir.Connector) -> tuple[str, ...]:
    host = re.sub(r"^[a-z]+://", "", connector.server.base_url).split("/", 1)[0].split(":", 1)[0]
    labels = [label for label in host.split(".") if "{" not in label]
    base = ".".join(labels[-2:]) if len(labels) >= 2 else ".".join(labels)
    domains = [base] if base else []
    for extra in connector.server.download_domains:
        if extra not in domains:
            domains.append(extra)
    return tuple(domains)


def _path_on_server(connector: ir.Connector, url: str) -> str:
    """Path of an OAuth endpoint that lives on the API host (`{base}/oauth/token` -> `/oauth/token`)."""
    base = connector.server.base_url.rstrip("/")
    if not url.startswith(base):
        raise NotImplementedError(f"OAuth endpoint {url} is not on the API host {base}")
    return url[len(base) :] or "/"


def _absolute_url_argument(op: ir.Operation) -> str | None:
    return op.url_parameter


def _path_pattern(template: str) -> str:
    """Regular expression of a download path template: each `{name}` is one non-empty segment."""
    return "/".join(
        "[^/]+" if re.fullmatch(r"\{[^{}]+\}", segment) else re.escape(segment)
        for segment in template.split("/")
    )


def _download_locations(op: ir.Operation) -> list[dict[str, str | None]]:
    return [
        {"host": loc.host, "path": _path_pattern(loc.path) if loc.path else None}
        for loc in op.download_locations
    ]


def _arguments(op: ir.Operation) -> list[dict[str, Any]]:
    out = []
    for arg in op.arguments:
        schema = arg.schema
        file_kind = ir.file_part_kind(schema) if arg.location == "body" else None
        out.append(
            {
                "name": arg.name,
                "python_name": arg.python_name,
                "location": arg.location,
                "wire_name": arg.wire_name,
                "required": arg.required,
                "style": arg.style,
                "validator": "Any" if file_kind else python_type(schema, "validator"),
                "path_type": path_param_type(schema) if arg.location == "path" else None,
                "file": file_kind,
            }
        )
    return out


def _body_type(op: ir.Operation) -> str | None:
    body = op.body
    if body is None or body.content_type.startswith("multipart/") or body.raw:
        return None
    name = ir.ref_name(body.schema)
    if name is not None:
        return f"_models.{name}"
    if body.argument is not None:  # whole-body argument (e.g. an array of named items)
        expr = python_type(body.schema, "validator")
        return None if expr == "Any" else expr
    return None


def _pagination(paginator: ir.Paginator | None) -> dict[str, Any] | None:
    """`PaginationSpec` fields (only those set) for any paginator but a plain cursor one."""
    if paginator is None or (
        paginator.type == "cursor"
        and not paginator.has_more_path
        and not paginator.end_of_stream_path
        and not paginator.limit_send_default
        and not paginator.follow_next_url
    ):
        return None
    fields: dict[str, Any] = {
        "type": paginator.type,
        "position_param": paginator.position_param,
        "limit_param": paginator.limit_param,
        "limit_default": paginator.limit_default,
        "first_page": paginator.first_page if paginator.type == "page_number" else None,
        "total_path": paginator.total_path,
        "has_more_path": paginator.has_more_path,
        "end_of_stream_path": paginator.end_of_stream_path,
        "next_start_path": paginator.next_start_path,
        "limit_send_default": paginator.limit_send_default or None,
        "follow_next_url": paginator.follow_next_url or None,
    }
    return {key: value for key, value in fields.items() if value is not None}


def _operation_context(op: ir.Operation) -> dict[str, Any]:
    env = op.response.envelope
    paginator = env.paginator
    schema_name = op.response.schema_name
    return {
        "tool": op.tool,
        "resource": op.resource,
        "method_name": op.method_name,
        "method": op.http_method,
        "path": op.path,
        "summary": op.summary,
        "envelope": env.type,
        "status": op.response.status,
        "read_only": op.read_only,
        "idempotent": op.idempotent,
        "arguments": _arguments(op),
        "items_path": op.response.items_path if env.is_list else None,
        "response_key": op.response.key if op.response.wrapped else None,
        "body_wrap_key": op.body.wrap_key if op.body else None,
        "body_filename_argument": next(
            (a.name for a in op.arguments if a.location == "query" and a.wire_name == op.body.filename_param), None
        ) if op.body is not None and op.body.filename_param else None,
        "sideloads": [
            (s.name, f"_models.{s.schema_name}" if s.schema_name else "None") for s in op.response.sideloads
        ],
        "next_cursor_path": paginator.next_cursor_path if paginator else None,
        "prev_cursor_path": paginator.prev_cursor_path if paginator else None,
        "next_url_path": paginator.next_url_path if paginator else None,
        "prev_url_path": paginator.prev_url_path if paginator else None,
        "cursor_param": paginator.cursor_param if paginator else None,
        "pagination": _pagination(paginator),
        "body_content_type": op.body.content_type if op.body else None,
        "body_type": _body_type(op),
        "response_type": f"_models.{schema_name}" if schema_name and env.is_json else None,
        "absolute_url_argument": _absolute_url_argument(op),
        "follow_redirects": env.type == "binary" or 300 <= op.response.status < 400,
        "media_type": env.media_type,
        "download_locations": _download_locations(op),
    }


def _default_doc(schema: Mapping[str, Any]) -> str:
    parts = []
    if "default" in schema:
        parts.append(f"Default (server side): `{json.dumps(ir.thaw(schema['default']))}`.")
    known = schema.get("x-known-values")
    if known:
        parts.append("Known values: " + ", ".join(f"`{v}`" for v in known) + ".")
    return " ".join(parts)


def _indent_wrap(text: str, indent: str, width: int = 92) -> str:
    return textwrap.fill(
        " ".join(text.split()),
        width=width,
        initial_indent=indent,
        subsequent_indent=indent + "    ",
        break_on_hyphens=False,
        break_long_words=False,
    ).lstrip()


def _docstring(op: ir.Operation, arg_docs: list[tuple[str, str]], returns: str) -> str:
    ind = "        "
    lines = [py_docline(op.summary.rstrip(".") + ".")]
    if op.description:
        lines += [
            "",
            textwrap.fill(
                py_docstring(op.description),
                width=92,
                initial_indent=ind,
                subsequent_indent=ind,
                break_on_hyphens=False,
                break_long_words=False,
            ).lstrip(),
        ]
    for quirk in op.quirks:
        lines += ["", py_docstring(_indent_wrap(f"Note: {quirk}", ind))]
    if op.deprecated:
        lines += ["", "Deprecated."]
    if arg_docs:
        lines += ["", "Args:"]
        for name, text in arg_docs:
            lines.append(f"    {name}: " + py_docstring(_indent_wrap(text, ind + "    ")))
    lines += [
        "",
        "Returns:",
        "    " + py_docstring(returns),
        "",
        f"Operation: `{op.tool}` ({op.http_method} {py_docline(op.path)}).",
    ]
    body = "\n".join((ind + line) if line and i > 0 else line for i, line in enumerate(lines))
    return body + "\n" + ind


def _describe(arg: ir.Argument, schemas: Mapping[str, Any]) -> str:
    """The argument's description, else the description of the schema it references."""
    if arg.description:
        return arg.description
    for candidate in (arg.schema, *arg.schema.get("anyOf", ()), *arg.schema.get("oneOf", ())):
        name = ir.ref_name(candidate) if isinstance(candidate, Mapping) else None
        if name and isinstance(schemas.get(name), Mapping) and schemas[name].get("description"):
            return str(schemas[name]["description"])
    return arg.name.replace("_", " ").capitalize() + "."


def _method_context(op: ir.Operation, schemas: Mapping[str, Any]) -> dict[str, Any]:
    env = op.response.envelope
    schema_name = op.response.schema_name
    item = response_type(schema_name, op.response.schema)
    absolute = _absolute_url_argument(op)
    path_order = re.findall(r"\{([^{}]+)\}", op.path)
    positional: list[ir.Argument] = sorted(
        (a for a in op.arguments if a.location == "path"),
        key=lambda a: path_order.index(a.wire_name),
    )
    required_kw = [a for a in op.arguments if a.location != "path" and a.required]
    optional_kw = [a for a in op.arguments if a.location != "path" and not a.required]
    params: list[str] = []
    arg_docs: list[tuple[str, str]] = []
    for a in positional:
        annotation = "str" if a.name == absolute else path_param_type(a.schema)
        params.append(f"{a.python_name}: {annotation}")
    if required_kw or optional_kw:
        params.append("*")
    for a in required_kw:
        params.append(f"{a.python_name}: {python_type(a.schema, 'annotation')}")
    for a in optional_kw:
        annotation = python_type(a.schema, "annotation")
        if a.location in ("body", "body_whole"):
            params.append(f"{a.python_name}: {annotation} | NotGiven = NOT_GIVEN")
        else:
            members = _split_union(annotation)
            if "None" not in members and annotation != "Any":
                annotation = f"{annotation} | None"
            params.append(f"{a.python_name}: {annotation} = None")
    for a in [*positional, *required_kw, *optional_kw]:
        text = _describe(a, schemas)
        extra = _default_doc(a.schema)
        where = {
            "path": "path",
            "query": "query",
            "header": "header",
            "body": "body field",
            "body_whole": "request body",
        }[a.location]
        arg_docs.append(
            (
                a.python_name,
                f"{text} {extra} ({where}{', required' if a.required else ''})".replace("  ", " "),
            )
        )
    if env.is_list and op.read_only:
        kind = "pager"
        returns = f"SyncPager[{item}]"
        returns_async = f"AsyncPager[{item}]"
        ret_doc = f"A lazy pager over `{item.replace('_models.', 'models.')}` items (iterate it, or call `first_page()`)."
    elif env.is_list:
        kind = "list"
        returns = returns_async = f"builtins.list[{item}]"
        ret_doc = f"The list of `{item.replace('_models.', 'models.')}` answered."
    elif env.type == "object":
        kind = "object"
        returns = returns_async = item
        ret_doc = f"The `{item.replace('_models.', 'models.')}` answered."
    elif env.type == "empty":
        kind = "empty"
        returns = returns_async = "None"
        ret_doc = "None (the API answers no content)."
    elif env.type == "binary":
        kind = "binary"
        returns = returns_async = "bytes | Path"
        ret_doc = "The file content as bytes, or the path written when `to` is given."
        arg_docs.append(("to", "Stream the content into this file instead of returning bytes."))
    else:
        kind = "text"
        returns = returns_async = "str"
        ret_doc = "The document text."
    arg_docs.append(
        ("request_options", "Per-call `timeout`, `max_retries`, `extra_headers`, `extra_query`.")
    )
    return {
        "name": op.method_name,
        "tool": op.tool,
        "kind": kind,
        "params": params,
        "args": [{"name": a.name, "python_name": a.python_name} for a in op.arguments],
        "returns": returns,
        "returns_async": returns_async,
        "item_type": item if item.startswith("_models.") else "None",
        "model_expr": item if item.startswith("_models.") else "None",
        "doc": _docstring(op, arg_docs, ret_doc),
    }


def _resource_context(resource: ir.Resource, schemas: Mapping[str, Any]) -> dict[str, Any]:
    base = _camel(resource.name)
    module = resource.name if not keyword.iskeyword(resource.name) else resource.name + "_"
    return {
        "name": resource.name,
        "module": module,
        "attribute": resource.client_attribute,
        "title": resource.title,
        "description": resource.description,
        "class_name": f"{base}Resource",
        "async_class_name": f"Async{base}Resource",
        "methods": [_method_context(op, schemas) for op in resource.operations],
    }


def _example(connector: ir.Connector) -> dict[str, Any]:
    """What the README and package docstring show: a paginated list, of the resource with the most
    operations (the first such in the definition on a tie)."""
    lists = [
        op
        for op in connector.operations
        if op.paginated and op.kind == "list" and not op.path_parameters
    ]
    if not lists:
        return {}
    sizes = {r.name: len(r.operations) for r in connector.resources}
    op = max(lists, key=lambda o: sizes.get(o.resource, 0))
    resource = next(r for r in connector.resources if r.name == op.resource)
    order = next((a for a in op.arguments if a.name == "order_by"), None)
    values = list(order.schema.get("enum", ())) if order is not None else []
    descending = [v for v in values if str(v).endswith(":desc")]
    order_by = next((v for v in descending if str(v).startswith("updated")), None) or next(
        iter(descending or values), None
    )
    get = next(
        (o for o in resource.operations if o.kind == "get" and len(o.path_parameters) == 1), None
    )
    return {
        "attr": resource.client_attribute,
        "tool": op.tool,
        "path": op.path,
        "order_by": order_by,
        "get": get is not None,
        "item": op.response.schema_name or "dict",
    }


_OAUTH_DEFAULT_DOCS = {
    "access_token": "OAuth2 access token sent as a bearer token.",
    "refresh_token": "Refresh token used to renew the access token.",
    "client_id": "Client ID of the OAuth2 app.",
    "client_secret": "Client secret of the OAuth2 app.",
}


def _credentials(connector: ir.Connector) -> list[dict[str, Any]]:
    """Every constructor argument that may come from the environment, with its docs."""
    out: list[dict[str, Any]] = []
    basic = connector.auth_scheme("http_basic")
    oauth = connector.auth_scheme("oauth2_authorization_code")
    if isinstance(basic, ir.HttpBasicAuth):
        for cred in (basic.username, basic.password):
            out.append(
                {
                    "param": cred.param,
                    "description": cred.description,
                    "env": cred.env,
                    "scheme": "basic",
                }
            )
    apikey = connector.auth_scheme("api_key")
    if isinstance(apikey, ir.ApiKeyAuth):
        out.append({"param": apikey.key.param, "description": apikey.key.description, "env": apikey.key.env,
                    "scheme": "api_key"})
    bearer = connector.auth_scheme("http_bearer")
    if isinstance(bearer, ir.HttpBearerAuth):
        out.append({"param": bearer.token.param, "description": bearer.token.description, "env": bearer.token.env,
                    "scheme": "bearer"})
    if isinstance(oauth, ir.OAuth2AuthorizationCode):
        declared = {
            "access_token": oauth.access_token,
            "refresh_token": oauth.refresh_token,
            "client_id": oauth.client_id,
            "client_secret": oauth.client_secret,
        }
        for param, cred in declared.items():
            out.append(
                {
                    "param": param,
                    "description": cred.description if cred else _OAUTH_DEFAULT_DOCS[param],
                    "env": cred.env if cred else None,
                    "scheme": "oauth",
                }
            )
    return out


def _scheme_params(scheme: ir.AuthScheme) -> list[ir.Credential | str]:
    """The constructor arguments one auth scheme takes (a fixed password is not one of them)."""
    if isinstance(scheme, ir.HttpBasicAuth):
        return [scheme.username] + ([] if scheme.password.fixed else [scheme.password])
    if isinstance(scheme, ir.ApiKeyAuth):
        return [scheme.key]
    if isinstance(scheme, ir.HttpBearerAuth):
        return [scheme.token]
    if isinstance(scheme, ir.OAuth2AuthorizationCode):
        return ["access_token", "refresh_token", "client_id", "client_secret"]
    return []


def _quick_start(connector: ir.Connector) -> dict[str, Any]:
    """Constructor calls the README shows: one per auth scheme, and the environment variables read."""
    variables = connector.server.variables
    calls: list[str] = []
    env_groups: list[str] = []
    for index, scheme in enumerate(connector.auth):
        params = [p if isinstance(p, str) else p.param for p in _scheme_params(scheme)]
        if index == 0:
            args = [f"{v.name}={py_str(str(v.example or 'example'))}" for v in variables]
            args += [f'{p}="me@example.com"' if "email" in p else f'{p}="..."' for p in params]
        else:
            args = [f"{v.name}=..." for v in variables] + [f"{p}=..." for p in params]
        calls.append(", ".join(args))
        if isinstance(scheme, ir.OAuth2AuthorizationCode):
            envs = [scheme.access_token.env] if scheme.access_token.env else []
        else:
            envs = [p.env for p in _scheme_params(scheme) if not isinstance(p, str) and p.env]
        if envs:
            env_groups.append(", ".join(envs))
    server_envs = [v.env for v in variables if v.env]
    env = ", ".join([*server_envs, " or ".join(env_groups)]) if env_groups else None
    return {"calls": calls, "env": env}


def _auth_table(connector: ir.Connector) -> list[tuple[str, tuple[Any, ...]]]:
    """`_spec.AUTH`: scheme name -> (type, constructor arguments, secret ones, rate-limit budget)."""
    rows = []
    for scheme in connector.auth:
        params = [p if isinstance(p, str) else p.param for p in _scheme_params(scheme)]
        secret = tuple(c.param for c in scheme.credentials if c.secret and c.param in params)
        budget = scheme.rate_limit.name if scheme.rate_limit else None
        rows.append((scheme.name, (scheme.type, tuple(params), secret, budget)))
    return rows


def context(connector: ir.Connector) -> dict[str, Any]:
    basic = connector.auth_scheme("http_basic")
    oauth = connector.auth_scheme("oauth2_authorization_code")
    usage = next((rl.usage_header for rl in connector.rate_limits if rl.usage_header), None)
    status_limit = next((rl for rl in connector.rate_limits if rl.status_headers), None)
    errors = connector.errors
    return {
        "c": connector,
        "basic": basic,
        "bearer": connector.auth_scheme("http_bearer"),
        "apikey": connector.auth_scheme("api_key"),
        "oauth": oauth,
        "prefix": connector.package.client_class,
        "resources": [_resource_context(r, connector.schemas) for r in connector.resources],
        "operations": [_operation_context(op) for op in connector.operations],
        "rate_limits": connector.rate_limits,
        "has_plans": any(rl.plans for rl in connector.rate_limits),
        "usage_header": usage,
        "status_limit": status_limit,
        "message_paths": (errors.message_path, *errors.fallback_message_paths),
        "message_doc": ", then ".join(
            "`" + ".".join(p) + "`" for p in (errors.message_path, *errors.fallback_message_paths)
        ),
        "field_errors_path": errors.field_errors_path,
        "field_errors_type": errors.field_errors.type if errors.field_errors else "string_lists",
        "field_errors_field_key": errors.field_errors.field_key if errors.field_errors else None,
        "field_errors_message_key": errors.field_errors.message_key if errors.field_errors else None,
        "field_errors_code_key": errors.field_errors.code_key if errors.field_errors else None,
        "request_id_headers": tuple(
            dict.fromkeys((*errors.request_id_headers, *GENERIC_REQUEST_ID_HEADERS))
        ),
        "trusted_domains": _trusted_domains(connector),
        "has_unified": getattr(connector, "unified", None) is not None,
        "ex": _example(connector),
        "quick_start": _quick_start(connector),
        "has_files": any(
            op.response.envelope.type == "binary"
            or (op.body is not None and (op.body.content_type.startswith("multipart/") or op.body.raw))
            for op in connector.operations
        ),
        "creds": _credentials(connector),
        "auth_table": _auth_table(connector),
        "plan_table": [
            (rl.name, (dict(rl.plans), rl.default_plan)) for rl in connector.rate_limits if rl.plans
        ],
        "oauth_scopes": tuple(s.name for s in oauth.scopes)
        if isinstance(oauth, ir.OAuth2AuthorizationCode)
        else (),
        "env": {c["param"]: c["env"] for c in _credentials(connector)},
        "token_body": "json"
        if isinstance(oauth, ir.OAuth2AuthorizationCode) and oauth.token_request_encoding == "json"
        else "data",
        "token_path": _path_on_server(connector, oauth.token_url)
        if isinstance(oauth, ir.OAuth2AuthorizationCode)
        else "",
        "authorize_path": _path_on_server(connector, oauth.authorize_url)
        if isinstance(oauth, ir.OAuth2AuthorizationCode)
        else "",
    }


# --- emit ----------------------------------------------------------------------------------------

#: Runtime modules rendered from templates (the connector's facts and the code shaped by them).
_RUNTIME = ("_spec", "_auth", "_operations", "_client")


def static_runtime() -> dict[str, str]:
    """The connector-independent runtime modules, by file name, exactly as in `runtime/`."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(RUNTIME.glob("*.py"))}


def emit(connector: ir.Connector, template_dir: Path | None = None) -> dict[str, str | bytes]:
    env = environment(template_dir)
    ctx = context(connector)
    pkg = f"{ROOT}/{connector.package.import_name}"
    files: dict[str, str | bytes] = {
        f"{ROOT}/pyproject.toml": env.get_template("pyproject.toml.j2").render(ctx),
        f"{ROOT}/README.md": env.get_template("README.md.j2").render(ctx),
        f"{pkg}/__init__.py": env.get_template("package_init.py.j2").render(ctx),
        f"{pkg}/py.typed": b"",
        f"{pkg}/models.py": generate_models(connector),
        f"{pkg}/resources/__init__.py": env.get_template("resources_init.py.j2").render(ctx),
    }
    for name in _RUNTIME:
        files[f"{pkg}/{name}.py"] = env.get_template(f"{name}.py.j2").render(ctx)
    for filename, text in static_runtime().items():
        files[f"{pkg}/{filename}"] = text
    template = env.get_template("resource.py.j2")
    for resource in ctx["resources"]:
        files[f"{pkg}/resources/{resource['module']}.py"] = template.render({**ctx, "r": resource})
    _check_model_names(connector, str(files[f"{pkg}/models.py"]))
    return files


def _check_model_names(connector: ir.Connector, source: str) -> None:
    defined = set(re.findall(r"^(?:class (\w+)\b|(\w+) = )", source, re.MULTILINE))
    names = {a or b for a, b in defined}
    missing = [name for name in connector.schemas if name not in names]
    if missing:
        raise RuntimeError(f"models.py lacks classes for schemas: {', '.join(missing)}")
