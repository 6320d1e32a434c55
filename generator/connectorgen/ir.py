"""The immutable, typed intermediate representation (IR) of a validated connector definition.

Emitters read only these classes. Everything an emitter needs is resolved here once: behaviours
referenced by name are replaced by the behaviour itself, pagination parameters are added to the
operations that paginate, OAuth scopes are defaulted, MCP hints are derived, flat tool arguments
(with their routing back to path, query or body) are computed, and every `$ref` is rewritten to
`#/$defs/<SchemaName>` against the connector-wide schema registry `Connector.schemas`.

JSON Schema fragments are stored frozen (`FrozenDict` / tuples); `thaw()` turns them back into
plain dicts and lists for serialisation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .unified_ir import UnifiedApi

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
OperationKind = Literal["list", "get", "create", "update", "delete", "custom"]
ParameterLocation = Literal["path", "query", "header"]
ParameterStyle = Literal["simple", "form", "repeated", "comma", "deep_object"]
ArgumentLocation = Literal["path", "query", "header", "body", "body_whole"]
EnvelopeType = Literal["cursor_list", "data_list", "bare_array", "object", "empty", "binary", "csv"]

SCHEMA_REF_PREFIX = "#/$defs/"
PaginatorType = Literal["cursor", "page_number", "offset", "next_url", "link_header", "time_export"]
LIST_ENVELOPES = frozenset({"cursor_list", "data_list", "bare_array"})
JSON_ENVELOPES = frozenset({"cursor_list", "data_list", "bare_array", "object"})


class FrozenDict(Mapping[str, Any]):
    """A hashable, read-only mapping that keeps insertion order (JSON Schema fragments)."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(json.dumps(thaw(self), sort_keys=True))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenDict):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenDict({self._data!r})"


def freeze(value: Any) -> Any:
    """Deep-freeze plain JSON data (dicts become FrozenDict, lists become tuples)."""
    if isinstance(value, Mapping):
        return FrozenDict({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Deep-copy frozen data back into plain dicts and lists (for json/yaml serialisation)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


RAW_BODY_CONTENT_TYPE = "application/octet-stream"

@dataclass(frozen=True, slots=True)
class SourceLocation:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


# --- server and auth -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerVariable:
    name: str
    description: str
    pattern: str | None
    env: str | None
    example: str | None
    default: str | None


@dataclass(frozen=True, slots=True)
class Server:
    base_url: str
    """Template such as `https://{subdomain}.example.com`."""
    base_url_env: str | None
    variables: tuple[ServerVariable, ...]
    download_domains: tuple[str, ...] = ()
    """Domains whose file URLs clients may fetch (without credentials)."""


@dataclass(frozen=True, slots=True)
class Credential:
    param: str
    env: str | None
    description: str
    secret: bool
    fixed: str | None = None
    """A fixed value sent unless the caller gives another (an http_basic password such as `X`)."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    name: str
    description: str
    requests: int
    period_seconds: float
    retry_after_header: str | None
    usage_header: str | None
    type: Literal["leaky_bucket", "fixed_window"] = "leaky_bucket"
    limit_header: str | None = None
    remaining_header: str | None = None
    reset_header: str | None = None
    reset_format: Literal["delta_seconds", "epoch_seconds"] = "delta_seconds"
    plans: tuple[tuple[str, int], ...] = ()
    """Budget per account plan (name, requests per period); `requests` is the default plan's."""
    default_plan: str | None = None

    @property
    def status_headers(self) -> bool:
        """True when responses carry the window's status (a usage header or remaining/limit/reset)."""
        return bool(self.usage_header or self.remaining_header or self.limit_header)


@dataclass(frozen=True, slots=True)
class HttpBasicAuth:
    name: str
    description: str
    username: Credential
    password: Credential
    rate_limit: RateLimit | None
    username_template: str | None = None
    """The user name sent, with `{<username param>}` replaced by the credential (None: as given)."""
    type: Literal["http_basic"] = "http_basic"

    @property
    def credentials(self) -> tuple[Credential, ...]:
        return (self.username, self.password)


@dataclass(frozen=True, slots=True)
class HttpBearerAuth:
    """A static token sent as `Authorization: Bearer <token>` (no OAuth flow)."""

    name: str
    description: str
    token: Credential
    rate_limit: RateLimit | None
    type: Literal["http_bearer"] = "http_bearer"

    @property
    def credentials(self) -> tuple[Credential, ...]:
        return (self.token,)


@dataclass(frozen=True, slots=True)
class ApiKeyAuth:
    """An API key sent in a header or a query parameter, after an optional prefix."""

    name: str
    description: str
    location: Literal["header", "query"]
    key_name: str
    """Name of the header or query parameter."""
    prefix: str
    key: Credential
    rate_limit: RateLimit | None
    type: Literal["api_key"] = "api_key"

    @property
    def credentials(self) -> tuple[Credential, ...]:
        return (self.key,)


@dataclass(frozen=True, slots=True)
class OAuthScope:
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class OAuth2AuthorizationCode:
    name: str
    description: str
    authorize_url: str
    token_url: str
    access_token: Credential
    refresh_token: Credential | None
    client_id: Credential | None
    client_secret: Credential | None
    offline_scope: str | None
    scopes: tuple[OAuthScope, ...]
    rate_limit: RateLimit | None
    type: Literal["oauth2_authorization_code"] = "oauth2_authorization_code"
    token_request_encoding: Literal["form", "json"] = "form"
    """How code exchange and refresh requests are sent to `token_url`: a form or a JSON object."""

    @property
    def credentials(self) -> tuple[Credential, ...]:
        found = (self.access_token, self.refresh_token, self.client_id, self.client_secret)
        return tuple(c for c in found if c is not None)


AuthScheme = HttpBasicAuth | HttpBearerAuth | ApiKeyAuth | OAuth2AuthorizationCode


# --- behaviours --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CursorPaginator:
    name: str
    description: str
    cursor_param: str
    cursor_param_description: str
    limit_param: str | None
    limit_param_description: str
    limit_minimum: int | None
    limit_maximum: int | None
    limit_default: int | None
    items_path: tuple[str, ...]
    next_cursor_path: tuple[str, ...] | None
    prev_cursor_path: tuple[str, ...] | None
    next_url_path: tuple[str, ...] | None = None
    """Fallback: a page may carry the next page's URL; its `cursor_param` query value is the cursor.

    For `page_number`, `next_url` and `time_export`: where a page gives the next page's URL."""
    prev_url_path: tuple[str, ...] | None = None
    type: PaginatorType = "cursor"
    position_param: str | None = None
    """The query parameter the opaque cursor is decoded into: `page_param` (page_number),
    `offset_param` (offset) or `start_param` (time_export); None for cursor and URL types."""
    position_param_description: str = ""
    first_page: int = 1
    total_path: tuple[str, ...] | None = None
    has_more_path: tuple[str, ...] | None = None
    end_of_stream_path: tuple[str, ...] | None = None
    next_start_path: tuple[str, ...] | None = None
    follow_next_url: bool = False
    """A cursor paginator whose next request is the query of the page's `next_url_path` URL as
    given (not the first request's parameters plus the cursor); that query is the opaque cursor."""
    limit_send_default: bool = False
    """The client sends `limit_default` as `limit_param` when the caller gives no page size."""

    @property
    def how(self) -> str:
        """How the pages follow each other, one Markdown paragraph (names in code spans)."""

        def code(path: tuple[str, ...] | str | None) -> str:
            return "`" + (path if isinstance(path, str) else ".".join(path or ())) + "`"

        size = f" and the page size as {code(self.limit_param)}" if self.limit_param else ""
        if self.limit_param and self.limit_send_default:
            size += f" ({self.limit_default} when not given: it is always sent)"
        items = f"Items are under {code(self.items_path)}."
        if self.type == "cursor":
            text = (f"Cursor pagination: send the cursor as {code(self.cursor_param)}{size}. {items} "
                    f"The next cursor is at {code(self.next_cursor_path)}")
            if self.has_more_path:
                text += f"; the list ends when {code(self.has_more_path)} is false"
            if self.end_of_stream_path:
                text += (f"; the list ends when {code(self.end_of_stream_path)} is true (an empty page "
                         "before that does not end it)")
            text += "."
            if self.follow_next_url:
                text += (f" Each next page is requested with the query of the URL at {code(self.next_url_path)} "
                         "as the API gives it (the first request's other parameters are not repeated).")
        elif self.type == "page_number":
            ends = ["an empty page", "a page shorter than the page size"]
            if self.total_path:
                ends.append(f"once the total at {code(self.total_path)} was read")
            if self.next_url_path:
                ends.append(f"when {code(self.next_url_path)} (the next page's URL) is empty")
            text = (f"Numbered pages: send the page number as {code(self.position_param)} (the first page is "
                    f"{self.first_page}){size}. {items} The list ends on {', '.join(ends[:-1])} or {ends[-1]}.")
        elif self.type == "offset":
            ends = ["an empty page", "a page shorter than the limit"]
            if self.total_path:
                ends.append(f"once the total at {code(self.total_path)} was read")
            text = (f"Offset pagination: send the number of items to skip as {code(self.position_param)}{size}. "
                    f"{items} The list ends on {', '.join(ends[:-1])} or {ends[-1]}.")
        elif self.type == "next_url":
            text = (f"Each page gives the URL of the next one at {code(self.next_url_path)}{size and ' (send' + size[4:] + ')'}. "
                    f"{items} The list ends when it is empty.")
        elif self.type == "link_header":
            text = (f"The URL of the next page is in the `Link` response header (`rel=\"next\"`)"
                    f"{size and ' (send' + size[4:] + ')'}. {items} The list ends when there is none.")
        else:
            nxt = " or ".join(code(p) for p in (self.next_start_path, self.next_url_path) if p)
            text = (f"Incremental export: send the start time (Unix seconds) as {code(self.position_param)}{size}; "
                    f"each page gives the next start time at {nxt}. {items} The export ends when "
                    f"{code(self.end_of_stream_path)} is true.")
        if self.client_cursor:
            text += (f" Generated clients and MCP tools hand out an opaque `next_cursor` per page and take it back "
                     f"as {code(self.cursor_param)}.")
        return text

    @property
    def client_cursor(self) -> bool:
        """True when `cursor_param` is an argument of the clients only, never sent as it is."""
        return self.type != "cursor"


Paginator = CursorPaginator
"""Every paginator type (`type`) is one frozen record; the fields a type does not use are None."""


@dataclass(frozen=True, slots=True)
class Envelope:
    name: str
    type: EnvelopeType
    description: str
    items_path: tuple[str, ...] | None
    """Where the items are in a page (cursor_list: the paginator's, data_list: declared)."""
    paginator: CursorPaginator | None
    media_type: str | None
    page_schema: str | None = None
    """Registry name of the whole-page schema (`page_schema`) of a list envelope, if declared."""

    @property
    def is_list(self) -> bool:
        return self.type in LIST_ENVELOPES

    @property
    def is_json(self) -> bool:
        return self.type in JSON_ENVELOPES


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    name: str
    description: str
    max_retries: int
    initial_delay_seconds: float
    max_delay_seconds: float
    jitter: Literal["none", "full"]
    retry_after_header: str | None
    max_retry_after_seconds: float
    retry_statuses: tuple[int, ...]
    always_retry_statuses: tuple[int, ...]
    idempotent_methods: tuple[str, ...]


FieldErrorsType = Literal["string_lists", "object_lists", "object_list"]


@dataclass(frozen=True, slots=True)
class FieldErrors:
    """Where and how an error body carries per-field errors (discriminated by `type`)."""

    type: FieldErrorsType
    path: tuple[str, ...]
    field_key: str | None = None
    """`object_list`: key of the field name in each object."""
    message_key: str | None = None
    """`object_lists` / `object_list`: key of the message in each object."""
    code_key: str | None = None
    """`object_lists` / `object_list`: key of the machine-readable code in each object."""


@dataclass(frozen=True, slots=True)
class Sandbox:
    """The sandbox definition (`sandbox/sandbox.yaml`): plain data the generated sandbox interprets."""

    timestamps: FrozenDict
    """`created` / `updated` fields stamped on writes, `suffix` of action stamps (may be empty)."""
    behaviours: FrozenDict
    """Vendor behaviours by key (unique_fields, me_alias, search_types, reports, ...)."""
    seed: FrozenDict
    """anchor, vocabulary, id_start and per-collection records / generate recipes, the collections
    ordered so that each comes after those its generators refer to."""


@dataclass(frozen=True, slots=True)
class ErrorShape:
    description: str
    schema_name: str
    message_path: tuple[str, ...]
    field_errors_path: tuple[str, ...] | None
    fallback_message_paths: tuple[tuple[str, ...], ...]
    field_errors: FieldErrors | None = None
    request_id_headers: tuple[str, ...] = ()
    """Declared request-id response headers (lower case), tried before the generic ones."""


# --- operations ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    """Name on the wire."""
    location: ParameterLocation
    description: str
    required: bool
    deprecated: bool
    style: ParameterStyle
    schema: FrozenDict
    example: Any
    from_paginator: bool
    """True for cursor/limit parameters contributed by the paginator."""
    how_to_find: str = ""
    """Where a caller gets a value for it (declared; empty when the name makes it obvious)."""
    client_only: bool = False
    """The opaque cursor argument of a paginator whose cursor is not a wire parameter: taken by the
    clients and MCP tools, decoded into the real page parameters, never sent as it is."""
    argument_name: str | None = None
    """The declared `name` when a `wire_name` is given (then `name` is the wire name): the flat
    argument clients and MCP tools take."""


@dataclass(frozen=True, slots=True)
class Body:
    content_type: str
    required: bool
    description: str
    schema: FrozenDict
    """As written (refs rewritten); may be a `$ref` to a registry schema."""
    resolved_schema: FrozenDict
    """The body schema with the top-level `$ref` chain followed (properties visible)."""
    argument: str | None
    """Flat argument carrying the whole body when the body is not an object, else None."""
    wrap_key: str | None = None
    """The body is sent wrapped under this key (`{"ticket": {...}}`); `schema` is the inner object."""
    content_type_argument: str | None = None
    """Raw-bytes bodies: the flat argument naming the media type sent as `Content-Type`."""
    filename_param: str | None = None
    """Raw-bytes bodies: the query parameter carrying the file's name."""

    @property
    def raw(self) -> bool:
        """The body is the raw bytes of one file (`application/octet-stream`)."""
        return self.content_type == RAW_BODY_CONTENT_TYPE


@dataclass(frozen=True, slots=True)
class Argument:
    """One flat tool argument and where it goes on the wire (the routing map)."""

    name: str
    """Flat name (unique within the operation; collisions get `_query` / `_body` suffixes)."""
    python_name: str
    """Identifier-safe keyword name for generated Python code."""
    location: ArgumentLocation
    wire_name: str
    """Name on the wire: the parameter name, the body property name, or "" for body_whole."""
    required: bool
    description: str
    schema: FrozenDict
    style: ParameterStyle


@dataclass(frozen=True, slots=True)
class Sideload:
    """One side-loaded collection: a top-level array `name` of objects of `schema`."""

    name: str
    schema: FrozenDict
    """Item schema (refs rewritten)."""
    schema_name: str | None
    """Registry name when the item schema is a plain `$ref`, else None."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    envelope: Envelope
    schema: FrozenDict | None
    """Object schema (object envelope) or item schema (list envelopes); refs rewritten."""
    schema_name: str | None
    """Registry name when the schema is a plain `$ref`, else None."""
    description: str
    alternatives: tuple[Envelope, ...] = ()
    """Other list envelopes the API also answers with (`alternative_envelopes`), same items."""
    key: str | None = None
    """Object envelope: the object is wrapped under this key. List envelopes: the items' key."""
    sideloads: tuple[Sideload, ...] = ()
    """Extra top-level arrays the API adds on request (`include=`), in declaration order."""

    @property
    def items_path(self) -> tuple[str, ...] | None:
        """Where a list response carries its items: the operation's `key`, else the envelope's."""
        if self.key is not None and self.envelope.is_list:
            return (self.key,)
        return self.envelope.items_path

    @property
    def wrapped(self) -> bool:
        """True when an object response is wrapped under `key`."""
        return self.key is not None and self.envelope.type == "object"


@dataclass(frozen=True, slots=True)
class McpAnnotations:
    title: str
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool


@dataclass(frozen=True, slots=True)
class Example:
    name: str
    summary: str
    arguments: FrozenDict | None
    response: Any


@dataclass(frozen=True, slots=True)
class ArgumentDefault:
    """A value filled in for an argument the caller leaves out (declared `defaults:` entry):
    `value`, or what `pick` takes from the result of the read-only `from_operation` called with
    `arguments` (constants, or `{"argument": name}` for one of this call's arguments)."""

    argument: str
    description: str
    value: Any
    from_operation: str | None
    arguments: FrozenDict
    pick: Any
    """A result field name (the value itself), or {key: result field} (an object)."""
    when: FrozenDict
    """Applies only when these arguments have these values (empty: always)."""


@dataclass(frozen=True, slots=True)
class DownloadLocation:
    """One place a download may fetch: a path template on the API host (sent with credentials),
    or another host (`*.` for its subdomains), fetched over https without credentials."""

    host: str | None
    path: str | None


@dataclass(frozen=True, slots=True)
class Operation:
    tool: str
    resource: str
    kind: OperationKind
    method_name: str
    """Client method name (resource.method_name)."""
    http_method: HttpMethod
    path: str
    summary: str
    description: str
    read_only: bool
    """GET/HEAD, or a POST/PUT declared as a read (search)."""
    deprecated: bool
    same_endpoint_as: str | None
    tags: tuple[str, ...]
    scopes: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    body: Body | None
    response: Response
    arguments: tuple[Argument, ...]
    annotations: McpAnnotations
    quirks: tuple[str, ...]
    examples: tuple[Example, ...]
    location: SourceLocation
    download_locations: tuple[DownloadLocation, ...] = ()
    """Where a file download may fetch from (declared; empty for other operations)."""
    defaults: tuple[ArgumentDefault, ...] = ()
    """Declared argument defaults, applied in order by the MCP server."""

    @property
    def path_parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == "path")

    @property
    def url_parameter(self) -> str | None:
        """The path parameter of an operation whose whole path is one absolute URL (`/{url}`,
        `format: uri`): the URL is requested as given, within `download_locations`."""
        if not (self.path.startswith("/{") and self.path.endswith("}")):
            return None
        name = self.path[2:-1]  # parameter names cannot hold "/" or braces, so `/{a}/{b}` never matches
        param = next((p for p in self.path_parameters if p.name == name), None)
        return name if param is not None and param.schema.get("format") == "uri" else None

    @property
    def query_parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == "query")

    @property
    def paginated(self) -> bool:
        return self.response.envelope.type == "cursor_list"

    @property
    def idempotent(self) -> bool:
        """Safe to send twice: derived from the method, overridable per operation (e.g. a merge)."""
        return self.annotations.idempotent


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    title: str
    description: str
    client_attribute: str
    tags: tuple[str, ...]
    operations: tuple[Operation, ...]
    location: SourceLocation


@dataclass(frozen=True, slots=True)
class PackageNames:
    distribution: str
    import_name: str
    client_class: str
    env_prefix: str


@dataclass(frozen=True, slots=True)
class Connector:
    name: str
    title: str
    description: str
    version: str
    docs_url: str | None
    package: PackageNames
    server: Server
    auth: tuple[AuthScheme, ...]
    paginators: tuple[CursorPaginator, ...]
    envelopes: tuple[Envelope, ...]
    retry_policy: RetryPolicy
    rate_limits: tuple[RateLimit, ...]
    errors: ErrorShape
    timeout_seconds: float
    resources: tuple[Resource, ...]
    schemas: FrozenDict
    """Connector-wide schema registry: name -> JSON Schema, refs as `#/$defs/<name>`."""
    source_hash: str
    """sha256 of every definition file (path + bytes), stamped into generated headers."""
    source_files: tuple[str, ...] = field(default=())
    unified: UnifiedApi | None = None
    """Unified ticketing / user-directory API compiled from `unified_mappings/`, when it exists."""
    datetime_offset_optional: bool = False
    """The API may send `date-time` values without a UTC offset (`datetime_offset: optional`)."""
    sandbox: Sandbox | None = None
    """The sandbox definition, when the connector has one."""
    mcp_default_toolsets: tuple[str, ...] = ()
    """Tags the MCP server serves with `--toolsets default` (`mcp.default_toolsets`)."""

    @property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(op for resource in self.resources for op in resource.operations)

    def operation(self, tool: str) -> Operation:
        for op in self.operations:
            if op.tool == tool:
                return op
        raise KeyError(tool)

    def auth_scheme(self, type_: str) -> AuthScheme | None:
        return next((a for a in self.auth if a.type == type_), None)


def file_part_kind(schema: Mapping[str, Any]) -> Literal["one", "many"] | None:
    """How a multipart body property is sent: "one" file part (a binary string), "many" (an
    array of them: one part per file, each named after its file, which the API may use as the
    file's label), or None for a plain form field."""
    if schema.get("type") == "string" and schema.get("format") == "binary":
        return "one"
    items = schema.get("items")
    if (
        schema.get("type") == "array"
        and isinstance(items, Mapping)
        and file_part_kind(items) == "one"
    ):
        return "many"
    return None


def ref_name(schema: Mapping[str, Any]) -> str | None:
    """Registry name of a schema that is exactly `{"$ref": "#/$defs/<name>"}`, else None."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(SCHEMA_REF_PREFIX) and len(schema) == 1:
        return ref[len(SCHEMA_REF_PREFIX) :]
    return None
