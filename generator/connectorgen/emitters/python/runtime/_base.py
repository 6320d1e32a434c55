"""Shared machinery of the sync and async clients that does no I/O.

Configuration from arguments and environment, argument checking and routing (path, query,
headers, JSON / multipart / form bodies), response decoding (tolerant list envelopes, typed
models tolerant per field), backoff and `Retry-after` handling, the time limits of one call
(`CallBudget`) and bounded decoding of response bodies (`BodyReader`).
"""

from __future__ import annotations

import base64
import enum
import gc
import hashlib
import io
import json
import logging
import math
import mimetypes
import os
import random
import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Annotated, Any, Final, Union
from urllib.parse import parse_qs, parse_qsl, quote, urlsplit

import httpx
import pydantic
from pydantic import BaseModel, TypeAdapter, ValidationError

from ._errors import (
    APIResponseValidationError,
    ConfigurationError,
    InvalidArgumentsError,
    ResponseTooLargeError,
)
from ._model import Problems, log_problems, validate_tolerantly
from ._operations import ArgumentSpec, DownloadLocation, OperationSpec
from ._spec import (
    ALWAYS_RETRY_STATUSES,
    BASE_URL_ENV,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    IDEMPOTENT_METHODS,
    IMPORT_NAME,
    RETRY_AFTER_HEADER,
    RETRY_JITTER,
    RETRY_STATUSES,
    SERVER_TEMPLATE,
    SERVER_VARIABLES,
    TRUSTED_DOMAINS,
)
from ._types import NotGiven

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RETRY_WAIT",
    "DEFAULT_TIMEOUT",
    "BodyReader",
    "CallBudget",
    "Prepared",
    "RetrySettings",
    "TrustedHosts",
    "base_url_from",
    "check_arguments",
    "decode_model",
    "decode_page",
    "jsonable",
    "logger",
    "prepare",
    "raw_page",
    "server_url",
]

logger: Final = logging.getLogger(IMPORT_NAME)

DEFAULT_MAX_RETRY_WAIT: Final = 60.0
"""Seconds one call may spend in total waiting between retries before the last error is raised."""
DEFAULT_MAX_RESPONSE_BYTES: Final = 32 * 1024 * 1024
"""Largest response body read into memory, counted after decompression (32 MiB)."""
DEFAULT_MAX_PAGES: Final = 10_000
"""Most pages one auto-paginating iteration fetches."""
DEFAULT_DEADLINE: Final[float | None] = None
"""Seconds one call may take in total (requests, retries and waits); None for no total limit."""
JSON_CONTENT_TYPE: Final = "application/json"
RAW_CONTENT_TYPE: Final = "application/octet-stream"
"""A body of this type is the raw bytes of one file, sent with the file's own media type."""


def server_url(*args: str | None, **variables: str | None) -> str:
    """The API base URL for the given server variables (falling back to their environment variables)."""
    names = list(SERVER_VARIABLES)
    values = dict(zip(names, args, strict=False))
    values.update(variables)
    url = SERVER_TEMPLATE
    for name, (env, pattern, default) in SERVER_VARIABLES.items():
        value = values.get(name) or (os.environ.get(env) if env else None) or default
        if not value:
            hint = f" or set {env}" if env else ""
            raise ConfigurationError(f"missing {name}: pass {name}=...{hint} (or base_url=)")
        if pattern and not re.fullmatch(pattern, value):
            raise ConfigurationError(f"invalid {name} {value!r}: must match {pattern}")
        url = url.replace("{" + name + "}", value)
    return url


def base_url_from(base_url: str | None, **variables: str | None) -> str:
    """`base_url` argument, else the base-URL environment variable, else the server template."""
    chosen = base_url or (os.environ.get(BASE_URL_ENV) if BASE_URL_ENV else None)
    if chosen:
        try:
            parsed = httpx.URL(chosen)
        except httpx.InvalidURL as exc:
            raise ConfigurationError(f"base_url is not a valid URL: {exc}") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ConfigurationError(f"base_url must be an absolute http(s) URL, got {chosen!r}")
        return chosen.rstrip("/")
    return server_url(**variables)


class TrustedHosts:
    """Which absolute URLs the client may fetch, and where credentials may go.

    File downloads accept only their operation's declared locations (`check_download`). For
    `request()`, an absolute URL is accepted only over http(s) and only on the client's own host, on a
    host of one of the connector's domains (`TRUSTED_DOMAINS` and their
    subdomains) or on a host the caller added with `trusted_hosts=`. The Authorization header is
    sent only to the client's own host; every other host is fetched without credentials. A
    download follows redirects hop by hop and sends it only to a declared location on that host.
    """

    def __init__(self, base_url: str, extra: Iterable[str] = ()) -> None:
        self.base = httpx.URL(base_url)
        self.extra = tuple(h.lower().lstrip(".") for h in extra)

    @staticmethod
    def _parse(url: str) -> httpx.URL:
        if not isinstance(url, str) or not url:
            raise ValueError("must be a non-empty absolute URL string")
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            raise ValueError("must be a well-formed URL") from None
        if parsed.scheme not in ("http", "https"):
            raise ValueError("must be an http(s) URL")
        if not parsed.host:
            raise ValueError("must be an absolute URL with a host")
        return parsed

    def _is_own(self, parsed: httpx.URL) -> bool:
        """On the client's host: then it must also use the client's scheme."""
        own = (
            parsed.host.lower() == (self.base.host or "").lower() and parsed.port == self.base.port
        )
        if own and parsed.scheme != self.base.scheme:
            raise ValueError(f"must use {self.base.scheme}:// like the client")
        return own

    def check(self, url: str) -> tuple[httpx.URL, bool]:
        """(parsed URL, send credentials?) or raise ValueError with the reason."""
        parsed = self._parse(url)
        host = parsed.host.lower()
        if self._is_own(parsed):
            return parsed, True
        allowed = TRUSTED_DOMAINS + self.extra
        if not any(host == d or host.endswith("." + d) for d in allowed):
            raise ValueError(
                f"host {host!r} is not trusted (allowed: the client's host, {', '.join(allowed)})"
            )
        if parsed.scheme != "https":
            raise ValueError("must be an https URL")
        return parsed, False

    def check_download(
        self, url: str, locations: Sequence[DownloadLocation]
    ) -> tuple[httpx.URL, bool]:
        """(parsed URL, send credentials?) for a URL a file download may fetch, else ValueError.

        Only the operation's declared download locations are accepted: on the client's host a
        declared path (with credentials), elsewhere a declared host or one added with
        `trusted_hosts=` (over https, without credentials). So a download can never reach another
        API endpoint, whatever URL it is given.
        """
        parsed = self._parse(url)
        path = parsed.path
        if ".." in path.split("/") or "." in path.split("/"):
            raise ValueError("must not contain '.' or '..' path segments")
        if self._is_own(parsed):
            if any(loc.host is None and _path_matches(loc, path) for loc in locations):
                return parsed, True
            raise ValueError(f"path {path!r} is not a download location of this operation")
        host = parsed.host.lower()
        declared = any(
            loc.host and _host_matches(loc.host, host) and _path_matches(loc, path)
            for loc in locations
        )
        if not declared and not any(host == d or host.endswith("." + d) for d in self.extra):
            hosts = ", ".join(loc.host for loc in locations if loc.host) or "none"
            raise ValueError(f"host {host!r} is not a download location (other hosts: {hosts})")
        if parsed.scheme != "https":
            raise ValueError("must be an https URL")
        return parsed, False

    def redirect_credentials(self, url: httpx.URL, locations: Sequence[DownloadLocation]) -> bool:
        """Whether a download may take credentials to the target of a redirect: only to a declared
        location on the client's host. Any other target is fetched without them (a signed storage
        URL needs none; another API path answers 401 without them)."""
        try:
            return self.check_download(str(url), locations)[1]
        except ValueError:
            return False


def _host_matches(pattern: str, host: str) -> bool:
    """`files.example.com` matches itself; `*.example.com` matches its subdomains."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def _path_matches(location: DownloadLocation, path: str) -> bool:
    return location.path is None or re.fullmatch(location.path, path) is not None


@dataclass(frozen=True, slots=True)
class RetrySettings:
    max_retries: int
    initial_delay: float
    max_delay: float
    max_retry_after: float
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    jitter: bool = RETRY_JITTER
    retry_statuses: frozenset[int] = RETRY_STATUSES
    always_retry_statuses: frozenset[int] = ALWAYS_RETRY_STATUSES
    idempotent_methods: frozenset[str] = IDEMPOTENT_METHODS
    retry_after_header: str = RETRY_AFTER_HEADER

    def backoff(self, attempt: int) -> float:
        """Exponential backoff for retry number `attempt` (0-based), with full jitter."""
        ceiling = min(self.max_delay, self.initial_delay * (2**attempt))
        return random.uniform(0, ceiling) if self.jitter else ceiling

    def retry_after(self, headers: httpx.Headers, *, cap: bool = True) -> float | None:
        """Seconds asked by the Retry-after header (number or HTTP date), capped.

        None when absent or unusable (`nan`, `inf`, negative, garbage), so the caller falls back
        to backoff; an HTTP date already past means now (0).
        """
        value = headers.get(self.retry_after_header)
        if value is None:
            return None
        seconds = _retry_after_seconds(value.strip())
        if seconds is None:
            return None
        return min(seconds, self.max_retry_after) if cap else seconds

    def should_retry_status(self, status: int, method: str) -> bool:
        if status in self.always_retry_statuses:
            return True
        return status in self.retry_statuses and method in self.idempotent_methods


def _retry_after_seconds(value: str) -> float | None:
    """Delay-seconds or an HTTP date as seconds from now; None unless a finite, non-negative delay."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max((when - datetime.now(UTC)).total_seconds(), 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class CallBudget:
    """The time limits of one call: its total deadline and what is left of its retry wait budget.

    Created per call (retries included) so that neither a stream of `Retry-after` answers nor a
    slow server can hold the caller longer than it asked for.
    """

    __slots__ = ("deadline", "ends_at", "retry_wait_left")

    def __init__(self, deadline: float | None, max_retry_wait: float) -> None:
        self.deadline = deadline
        self.ends_at = time.monotonic() + deadline if deadline is not None else None
        self.retry_wait_left = max_retry_wait

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative); None without a deadline."""
        if self.ends_at is None:
            return None
        return max(self.ends_at - time.monotonic(), 0.0)

    def expired(self) -> bool:
        return self.ends_at is not None and time.monotonic() >= self.ends_at

    def fits(self, delay: float) -> bool:
        """Whether waiting `delay` seconds still ends before the deadline."""
        return self.ends_at is None or time.monotonic() + delay < self.ends_at

    def take_retry_wait(self, delay: float) -> bool:
        """Spend `delay` seconds of the retry wait budget; False (nothing spent) when it does not fit."""
        if delay > self.retry_wait_left or not self.fits(delay):
            return False
        self.retry_wait_left -= delay
        return True

    def timeout(self, timeout: Any) -> Any:
        """`timeout` (seconds or `httpx.Timeout`) shortened so that no single wait outlives the deadline."""
        left = self.remaining()
        if left is None:
            return timeout
        if isinstance(timeout, httpx.Timeout):
            return httpx.Timeout(
                connect=_shorter(timeout.connect, left),
                read=_shorter(timeout.read, left),
                write=_shorter(timeout.write, left),
                pool=_shorter(timeout.pool, left),
            )
        return _shorter(timeout, left)

    def describe(self) -> str:
        return f"deadline of {self.deadline:g} s exceeded"


def _shorter(timeout: float | None, left: float) -> float:
    return left if timeout is None else min(timeout, left)


# --- arguments ---------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Plain JSON data from models, dates, enums, mappings and sequences (NOT_GIVEN fields dropped)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items() if not isinstance(v, NotGiven)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    raise TypeError(f"cannot send a {type(value).__name__} as JSON")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _scalar(value.value)
    return str(value)


def encode_query(arg: ArgumentSpec, value: Any, out: list[tuple[str, str]]) -> None:
    name = arg.wire_name
    if arg.style == "deep_object":
        if not isinstance(value, Mapping):
            raise TypeError("must be an object")
        for key, item in jsonable(value).items():
            if item is not None:
                out.append((f"{name}[{key}]", _scalar(item)))
        return
    if isinstance(value, list | tuple | set | frozenset):
        items = [_scalar(v) for v in value if v is not None]
        if arg.style == "comma":
            out.append((name, ",".join(items)))
        else:
            out.extend((name, v) for v in items)
        return
    if isinstance(value, Mapping):
        out.extend((str(k), _scalar(v)) for k, v in value.items() if v is not None)
        return
    out.append((name, _scalar(value)))


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def int64_problem(value: Any) -> str | None:
    """Why an integer (or a list of them) cannot be sent: outside the signed 64-bit range that
    APIs store ids and counts in. None when it fits, or when the value is not an integer."""
    values = value if isinstance(value, list | tuple) else (value,)
    for item in values:
        if (
            isinstance(item, int)
            and not isinstance(item, bool)
            and not INT64_MIN <= item <= INT64_MAX
        ):
            return f"must be between {INT64_MIN} and {INT64_MAX} (a 64-bit integer), got {item}"
    return None


def _path_segment(arg: ArgumentSpec, value: Any) -> str:
    if arg.path_type is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"must be an integer, got {type(value).__name__}")
        problem = int64_problem(value)
        if problem is not None:
            raise ValueError(problem)
        try:  # the declared bounds (ids are never negative)
            adapter(arg.type).validate_python(value)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].lower()) from None
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"must be a string, got {type(value).__name__}")
    if value in ("", ".", ".."):
        raise ValueError("must not be empty, '.' or '..'")
    return quote(value, safe="")


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def adapter(tp: Any) -> TypeAdapter[Any]:
    found = _ADAPTERS.get(tp)
    if found is None:
        found = _ADAPTERS[tp] = TypeAdapter(tp)
    return found


def _pydantic_errors(
    exc: ValidationError, names: Mapping[str, str] | None = None, prefix: str = ""
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False, include_input=False):
        loc = [str(p) for p in err.get("loc", ())]
        if loc and names and loc[0] in names:
            loc[0] = names[loc[0]]
        key = ".".join([prefix, *loc] if prefix else loc) or prefix or "body"
        out.setdefault(key, []).append(str(err.get("msg", "invalid value")))
    return out


def check_arguments(
    op: OperationSpec, args: Mapping[str, Any], *, deep: bool
) -> dict[str, list[str]]:
    """Problems with flat `args` for `op` (unknown names, missing required, wrong types).

    Path parameters are always type-checked; `deep` also validates query/header values and body
    fields that have no named body model against their declared types.
    """
    errors: dict[str, list[str]] = {}
    by_name = op.by_name
    unknown = [k for k in args if k not in by_name]
    for name in unknown:
        expected = ", ".join(by_name) or "no arguments"
        errors[name] = [f"unknown argument (expected: {expected})"]
    for arg in op.arguments:
        present = arg.name in args and not isinstance(args[arg.name], NotGiven)
        value = args.get(arg.name)
        if arg.location in ("path", "query", "header") and present and value is None:
            present = False
        if not present:
            if arg.required:
                errors[arg.name] = ["required"]
            continue
        out_of_range = int64_problem(value)
        if out_of_range is not None:
            errors[arg.name] = [out_of_range]
            continue
        if arg.location == "path":
            if op.absolute_url_argument == arg.name:
                continue
            try:
                _path_segment(arg, value)
            except (TypeError, ValueError) as exc:
                errors[arg.name] = [str(exc)]
        elif (
            deep
            and not arg.file
            and (arg.location != "body" or op.body_type is None)
            and arg.location != "body_whole"
        ):
            try:
                adapter(arg.type).validate_python(value)
            except ValidationError as exc:
                errors.update(_pydantic_errors(exc, prefix=arg.name))
    return errors


@dataclass(slots=True)
class Prepared:
    """One request ready to send."""

    method: str
    url: str
    """Path relative to the base URL, or an absolute URL for URL-taking operations."""
    absolute: bool
    send_auth: bool
    params: list[tuple[str, str]]
    headers: dict[str, str]
    content: bytes | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    data: dict[str, str] | None = None
    log_path: str = ""


def _file_part(value: Any, index: int, default_name: str) -> tuple[str, bytes, str]:
    name: str | None = None
    content_type = "application/octet-stream"
    if isinstance(value, tuple):
        if len(value) == 3:
            name, value, content_type = value
        elif len(value) == 2:
            name, value = value
        else:
            raise TypeError("a file tuple is (name, content) or (name, content, content_type)")
    if isinstance(value, os.PathLike):
        path = Path(value)
        name = name or path.name
        data = path.read_bytes()
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
    elif isinstance(value, io.IOBase) or hasattr(value, "read"):
        data = value.read()
        if isinstance(data, str):
            data = data.encode()
        name = name or os.path.basename(str(getattr(value, "name", ""))) or None
    else:
        raise TypeError(
            f"cannot upload a {type(value).__name__}; give bytes, a binary file or a path"
        )
    if not name:
        name = f"{default_name}{index + 1}"
    return str(name), bytes(data), content_type


def _single_file_tuple(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) in (2, 3) and isinstance(value[0], str)


def _multipart(
    op: OperationSpec, body_args: list[tuple[ArgumentSpec, Any]]
) -> tuple[list[tuple[str, tuple[str, bytes, str]]], dict[str, str], str]:
    """(file parts, form fields, boundary). A list of files sends one part per file named after
    the file (some APIs label stored files with their form-field name). The boundary is derived
    from the content, so identical uploads are byte-identical requests."""
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    data: dict[str, str] = {}
    for arg, value in body_args:
        if arg.file:
            many = arg.file == "many"
            values = (
                list(value)
                if many and isinstance(value, list | tuple) and not _single_file_tuple(value)
                else [value]
            )
            for i, item in enumerate(values):
                part = _file_part(item, i, arg.wire_name)
                files.append((part[0] if many else arg.wire_name, part))
        else:
            plain = jsonable(value)
            data[arg.wire_name] = plain if isinstance(plain, str) else json.dumps(plain)
    digest = hashlib.sha256()
    for field_name, (fname, content, ctype) in files:
        digest.update(f"{field_name}\0{fname}\0{ctype}\0".encode())
        digest.update(content)
    for key, val in data.items():
        digest.update(f"{key}\0{val}\0".encode())
    return files, data, "connectorgen" + digest.hexdigest()[:32]


def prepare(
    op: OperationSpec,
    args: Mapping[str, Any],
    *,
    trusted: TrustedHosts,
    deep: bool,
    cursor: str | None = None,
) -> Prepared:
    """Check `args` and route them to path, query, headers and body; raise InvalidArgumentsError."""
    errors = check_arguments(op, args, deep=deep)
    path = op.path
    params: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    body: Any = None
    body_value: Any = None
    has_body = False
    body_args: list[tuple[ArgumentSpec, Any]] = []
    absolute = False
    send_auth = True
    client_cursor = op.pagination is not None and op.pagination.type != "cursor"
    if client_cursor and cursor is None:
        given = args.get(op.cursor_param or "")
        cursor = given if isinstance(given, str) and given else None
    elif cursor is None and op.pagination is not None and op.pagination.follow_next_url:
        given = args.get(op.cursor_param or "")  # a next-page URL's query handed out as next_cursor
        if isinstance(given, str) and next_url_params(op, given) is not None:
            cursor = given
    for arg in op.arguments:
        if arg.name not in args:
            continue
        value = args[arg.name]
        if isinstance(value, NotGiven):
            continue
        loc = arg.location
        if loc == "query":
            if value is None or (
                (cursor is not None or client_cursor) and arg.name == op.cursor_param
            ):
                continue
            try:
                encode_query(arg, value, params)
            except (TypeError, ValueError) as exc:
                errors.setdefault(arg.name, []).append(str(exc))
        elif loc == "path":
            if arg.name in errors or value is None:
                continue
            if op.absolute_url_argument == arg.name:
                try:
                    parsed, send_auth = trusted.check_download(value, op.download_locations)
                except ValueError as exc:
                    errors[arg.name] = [str(exc)]
                    continue
                path = str(parsed)
                absolute = True
            else:
                path = path.replace("{" + arg.wire_name + "}", _path_segment(arg, value))
        elif loc == "header":
            if value is not None:
                headers[arg.wire_name] = _scalar(value)
        elif loc == "body":
            body_args.append((arg, value))
        else:  # body_whole
            has_body = True
            if op.body_content_type == RAW_CONTENT_TYPE:  # raw bytes: read in one place below
                body_value = value
                continue
            try:
                body = jsonable(value)
            except TypeError as exc:
                errors.setdefault(arg.name, []).append(str(exc))
    pagination = op.pagination
    if (
        pagination is not None
        and pagination.limit_send_default
        and pagination.limit_param
        and pagination.limit_default is not None
        and all(name != pagination.limit_param for name, _ in params)
    ):
        params.append((pagination.limit_param, str(pagination.limit_default)))
    if client_cursor:
        if cursor is not None:
            try:
                params = position_params(op, params, cursor)
            except ValueError as exc:
                errors.setdefault(op.cursor_param or "cursor", []).append(str(exc))
    elif cursor is not None and op.cursor_param:
        followed = next_url_params(op, cursor)
        if followed is not None:  # the query of the API's own next-page URL, as it was given
            params = followed
        else:
            params.append((op.cursor_param, cursor))
    prepared = Prepared(op.method, path, absolute, send_auth, params, headers)
    content_type = op.body_content_type or JSON_CONTENT_TYPE
    if content_type == RAW_CONTENT_TYPE:
        if has_body and not errors:
            name = next((a.name for a in op.arguments if a.location == "body_whole"), "file")
            try:
                filename, raw, file_type = _file_part(body_value, 0, name)
            except (TypeError, OSError) as exc:
                errors.setdefault(name, []).append(str(exc))
            else:
                prepared.content = raw
                if "Content-Type" not in headers:  # no media type argument given
                    named = args.get(op.body_filename_argument or "")
                    for guess in (filename, named if isinstance(named, str) else None):
                        if file_type == RAW_CONTENT_TYPE and guess:
                            file_type = mimetypes.guess_type(guess)[0] or RAW_CONTENT_TYPE
                    headers["Content-Type"] = file_type
    elif content_type.startswith("multipart/"):
        if body_args and not errors:
            try:
                files, data, boundary = _multipart(op, body_args)
            except (TypeError, OSError) as exc:
                errors.setdefault(body_args[0][0].name, []).append(str(exc))
            else:
                prepared.files, prepared.data = files, data
                headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif body_args or has_body:
        if body_args:
            has_body = True
            try:
                body = {arg.wire_name: jsonable(value) for arg, value in body_args}
            except TypeError as exc:
                errors.setdefault(body_args[0][0].name, []).append(str(exc))
        if op.body_type is not None and not errors:
            try:
                adapter(op.body_type).validate_python(body)
            except ValidationError as exc:
                names = {a.wire_name: a.name for a in op.arguments if a.location == "body"}
                prefix = next((a.name for a in op.arguments if a.location == "body_whole"), "")
                errors.update(_pydantic_errors(exc, names, prefix))
        if has_body and not errors:
            if op.body_wrap_key is not None:  # the API takes the object under one key
                body = {op.body_wrap_key: body}
            if content_type == "application/x-www-form-urlencoded":
                prepared.data = {
                    k: v if isinstance(v, str) else json.dumps(v) for k, v in (body or {}).items()
                }
            else:
                prepared.content = json.dumps(
                    body, separators=(",", ":"), ensure_ascii=False
                ).encode()
                headers["Content-Type"] = content_type
    if errors:
        raise InvalidArgumentsError(op.tool, errors)
    prepared.log_path = httpx.URL(path).path if absolute else path
    return prepared


# --- responses ---------------------------------------------------------------------------------


def _mismatch(
    model: Any, exc: ValidationError, where: str, status: int
) -> APIResponseValidationError:
    """The error of a response that does not match its model, with `strict_response_validation`."""
    method, _, path = where.partition(" ")
    return APIResponseValidationError(
        f"response does not match {model.__name__}: {exc.errors(include_url=False, include_input=False)[:3]}",
        method=method,
        path=path,
        status_code=status,
    )


def _tolerant(
    model: Any, raw: Any, exc: ValidationError, where: str, status: int
) -> tuple[Any, Problems]:
    """`raw` validated into `model` field by field (see `_model`); a payload that is no object stays raw."""
    if not isinstance(raw, Mapping):
        logger.warning("%s: payload is not a %s object; keeping it as is", where, model.__name__)
        return raw, Problems()
    try:
        return validate_tolerantly(model, raw, exc)
    except RecursionError:
        method, _, path = where.partition(" ")
        raise APIResponseValidationError(
            "response is nested too deeply to read", method=method, path=path, status_code=status
        ) from None


def loads(content: bytes, where: str, status: int) -> Any:
    try:
        return json.loads(content)
    except ValueError as exc:
        method, _, path = where.partition(" ")
        raise APIResponseValidationError(
            "response is not JSON", method=method, path=path, status_code=status
        ) from exc
    except RecursionError as exc:
        method, _, path = where.partition(" ")
        raise APIResponseValidationError(
            "response JSON is nested too deeply to read",
            method=method,
            path=path,
            status_code=status,
        ) from exc


def unwrap(data: Any, key: str | None) -> Any:
    """The object an API wraps under `key` (`{"ticket": {...}}`); a payload without the wrapper as it is."""
    if key is not None and isinstance(data, Mapping) and key in data:
        return data[key]
    return data


def sideloads_of(
    data: Any, op: OperationSpec, *, typed: bool, strict: bool, where: str, status: int = 200
) -> dict[str, list[Any]]:
    """The declared side-loaded arrays a response carries (`include=`), typed when `typed` and named."""
    out: dict[str, list[Any]] = {}
    if not isinstance(data, Mapping):
        return out
    for name, model in op.sideloads:
        items = data.get(name)
        if isinstance(items, list):
            out[name] = (
                _typed_items(items, model, strict, where, status)
                if typed and model is not None
                else items
            )
    return out


def page_total(data: Any, op: OperationSpec) -> int | None:
    """The total number of items a list page states (`total_path`), None when it says none."""
    if op.pagination is None or not op.pagination.total_path:
        return None
    return _int(_dig(data, op.pagination.total_path))


def decode_model(
    content: bytes,
    model: Any,
    *,
    strict: bool,
    where: str,
    status: int = 200,
    key: str | None = None,
) -> Any:
    """Validate a JSON object response into `model`: tolerant per field (see `_model`) unless `strict`.

    With `key`, the object is the one wrapped under that key.
    """
    if key is not None:
        raw = unwrap(loads(content, where, status), key)
        if model is None:
            return raw
        try:
            return model.__pydantic_validator__.validate_python(raw)
        except ValidationError as exc:
            error = exc
    else:
        if model is None:
            return loads(content, where, status)
        try:
            return model.__pydantic_validator__.validate_json(
                content
            )  # pydantic alone: the fast path
        except ValidationError as exc:
            error = exc
        raw = loads(content, where, status)
    if strict:
        raise _mismatch(model, error, where, status)
    instance, problems = _tolerant(model, raw, error, where, status)
    log_problems(problems, model.__name__, where)
    return instance


def _dig(data: Any, path: Sequence[str] | None) -> Any:
    if not path:
        return None
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _cursor(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _cursor_from_url(url: Any, param: str | None) -> str | None:
    """The cursor carried in a page URL (`meta.next_items`-style responses), if any."""
    if not param or not isinstance(url, str) or not url:
        return None
    values = parse_qs(urlsplit(url).query).get(param)
    return _cursor(values[0]) if values else None


def position_params(
    op: OperationSpec, params: list[tuple[str, str]], cursor: str
) -> list[tuple[str, str]]:
    """The query of the page an opaque cursor (`next_cursor`) points at, from the query of the first page.

    Page numbers, offsets and start times replace their own parameter; the query string of a
    next-page URL replaces the whole query (the URL carries every parameter the API wants back).
    """
    pagination = op.pagination
    if pagination is None or pagination.type == "cursor":
        return [*params, (op.cursor_param or "cursor", cursor)]
    if pagination.type in ("next_url", "link_header"):
        pairs = parse_qsl(cursor, keep_blank_values=True)
        if not pairs:
            raise ValueError("not a cursor of this list; pass the next_cursor of a previous page")
        return pairs
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 20:
        raise ValueError("not a cursor of this list; pass the next_cursor of a previous page")
    name = pagination.position_param or ""
    return [(k, v) for k, v in params if k != name] + [(name, cursor)]


def next_url_params(op: OperationSpec, cursor: str) -> list[tuple[str, str]] | None:
    """The query to send for `cursor` when the paginator follows the API's next URL
    (`follow_next_url`): the cursor is that URL's query and must carry the cursor parameter; a
    bare cursor value (None here) is sent with the first request's parameters as usual."""
    pagination = op.pagination
    if pagination is None or not pagination.follow_next_url or "=" not in cursor:
        return None
    pairs = parse_qsl(cursor, keep_blank_values=True)
    if not any(name == op.cursor_param for name, _ in pairs):
        return None
    return pairs


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    return None


def _url_query(url: Any) -> str | None:
    """The opaque cursor of a next-page URL: its query string (the request keeps its own host and path)."""
    if not isinstance(url, str) or not url:
        return None
    query = urlsplit(url).query
    return query or None


_LINK_NEXT = re.compile(
    r'<([^>]*)>[^,]*?;\s*rel\s*=\s*"?(?:[^",]*\s)?next(?:\s[^",]*)?"?', re.IGNORECASE
)


def link_next(header: str | None) -> str | None:
    """The `rel="next"` URL of a `Link` response header (RFC 8288), if any."""
    if not header:
        return None
    match = _LINK_NEXT.search(header)
    return match.group(1) if match else None


def next_position(
    op: OperationSpec,
    items: list[Any],
    nxt: str | None,
    signals: Mapping[str, Any],
    sent: Sequence[tuple[str, str]],
    link: str | None,
) -> str | None:
    """The opaque cursor of the page after this one, or None on the last page.

    `signals` holds what the page said (`total`, `has_more`, `end_of_stream`, `next_start`,
    `next_url`), `sent` the query the page was fetched with, `link` its `Link` header.
    """
    pagination = op.pagination
    if pagination is None:
        return nxt
    kind = pagination.type
    if kind == "cursor":
        if signals.get("has_more") is False or signals.get("end_of_stream") is True:
            return None
        if pagination.follow_next_url and nxt is not None:
            url_query = _url_query(signals.get("next_url"))
            if url_query and any(name == op.cursor_param for name, _ in parse_qsl(url_query)):
                return url_query
        return nxt
    if kind == "next_url":
        return _url_query(signals.get("next_url"))
    if kind == "link_header":
        return _url_query(link_next(link))
    if kind == "time_export":
        if signals.get("end_of_stream") is True:
            return None
        start = _int(signals.get("next_start"))
        if start is not None:
            return str(start)
        values = parse_qs(urlsplit(signals.get("next_url") or "").query).get(
            pagination.position_param or ""
        )
        return values[0] if values and _int(values[0]) is not None else None
    if not items:
        return None
    query = dict(sent)
    size = _int(query.get(pagination.limit_param or "")) or pagination.limit_default
    if size is not None and len(items) < size:
        return None  # a short page is the last one
    total = _int(signals.get("total"))
    position = _int(query.get(pagination.position_param or ""))
    if kind == "page_number":
        page = pagination.first_page if position is None else position
        if op.next_url_path is not None and not signals.get("next_url"):
            return None
        if (
            total is not None
            and (page - pagination.first_page) * (size or len(items)) + len(items) >= total
        ):
            return None
        return str(page + 1)
    after = (position or 0) + len(items)
    if total is not None and after >= total:
        return None
    return str(after)


def _signal_paths(op: OperationSpec) -> dict[str, tuple[str, ...]]:
    """Where a page holds what `next_position` reads, by signal name."""
    pagination = op.pagination
    if pagination is None:
        return {}
    paths = {
        "total": pagination.total_path,
        "has_more": pagination.has_more_path,
        "end_of_stream": pagination.end_of_stream_path,
        "next_start": pagination.next_start_path,
        "next_url": op.next_url_path,
    }
    if pagination.type == "cursor" and not pagination.follow_next_url:
        paths.pop("next_url")
    return {name: path for name, path in paths.items() if path}


def _cursors(
    op: OperationSpec, nxt: Any, prv: Any, next_url: Any, prev_url: Any
) -> tuple[str | None, str | None]:
    return (
        _cursor(nxt) or _cursor_from_url(next_url, op.cursor_param),
        _cursor(prv) or _cursor_from_url(prev_url, op.cursor_param),
    )


def raw_page(
    data: Any,
    op: OperationSpec,
    where: str,
    status: int,
    *,
    sent: Sequence[tuple[str, str]] = (),
    link: str | None = None,
) -> tuple[list[Any], str | None, str | None]:
    """Items and cursors of a list response, read tolerantly (bare array <-> `{data: [...]}`).

    `sent` (the query the page was fetched with) and `link` (its `Link` header) are what paginators
    other than a plain cursor one need to tell the next page.
    """
    if isinstance(data, list):
        return data, next_position(op, data, None, {}, sent, link) if op.pagination else None, None
    if isinstance(data, Mapping):
        items = _dig(data, op.items_path or ("data",))
        if isinstance(items, list):
            nxt, prv = _cursors(
                op,
                _dig(data, op.next_cursor_path),
                _dig(data, op.prev_cursor_path),
                _dig(data, op.next_url_path),
                _dig(data, op.prev_url_path),
            )
            if op.pagination is not None:
                signals = {name: _dig(data, path) for name, path in _signal_paths(op).items()}
                nxt = next_position(op, items, nxt, signals, sent, link)
            return items, nxt, prv
    method, _, path = where.partition(" ")
    raise APIResponseValidationError(
        "expected a list response", method=method, path=path, status_code=status
    )


def _item_or_raw(item_type: Any) -> Any:
    """`item_type`, or the raw JSON value of an item that does not match it.

    One item that does not match then leaves the rest of the page on the fast path (pydantic
    alone, from the bytes); only that item is repaired afterwards (`_typed_items`).
    """
    return Annotated[Union[item_type, Any], pydantic.Field(union_mode="left_to_right")]  # noqa: UP007


def _list_of(tp: Any) -> Any:
    return list.__class_getitem__(tp)


_PAGE_ADAPTERS: dict[
    tuple[Any, ...],
    tuple[
        TypeAdapter[Any], Callable[[Any], tuple[list[Any], str | None, str | None, dict[str, Any]]]
    ],
] = {}


def _page_model(
    op: OperationSpec, item_type: Any
) -> tuple[
    TypeAdapter[Any], Callable[[Any], tuple[list[Any], str | None, str | None, dict[str, Any]]]
]:
    """A pydantic model of the page envelope, so a page is parsed and validated in one pass."""
    key = (
        op.envelope,
        op.items_path,
        op.next_cursor_path,
        op.prev_cursor_path,
        op.next_url_path,
        op.pagination,
        item_type,
    )
    found = _PAGE_ADAPTERS.get(key)
    if found is not None:
        return found
    if op.envelope == "bare_array" or not op.items_path:
        list_adapter: TypeAdapter[Any] = TypeAdapter(_list_of(_item_or_raw(item_type)))
        found = (list_adapter, lambda parsed: (parsed, None, None, {}))
        _PAGE_ADAPTERS[key] = found
        return found
    paths: dict[str, tuple[tuple[str, ...], Any, bool]] = {
        "items": (op.items_path, _list_of(_item_or_raw(item_type)), True)
    }
    if op.next_cursor_path:
        paths["next"] = (op.next_cursor_path, str | None, False)
    if op.prev_cursor_path:
        paths["prev"] = (op.prev_cursor_path, str | None, False)
    if op.next_url_path:
        paths["next_url"] = (op.next_url_path, str | None, False)
    if op.prev_url_path:
        paths["prev_url"] = (op.prev_url_path, str | None, False)
    for name, path in _signal_paths(op).items():
        paths.setdefault(name, (path, Any, False))
    counter = iter(range(1_000_000))

    def build(prefix: tuple[str, ...]) -> Any:
        fields: dict[str, Any] = {}
        children: dict[str, Any] = {}
        for _role, (path, tp, required) in paths.items():
            if path[: len(prefix)] != prefix or len(path) <= len(prefix):
                continue
            head = path[len(prefix)]
            if len(path) == len(prefix) + 1:
                fields[head] = (tp, pydantic.Field(... if required else None, alias=head))
            elif head not in children:
                children[head] = build((*prefix, head))
        for head, child in children.items():
            fields[head] = (child | None, pydantic.Field(None, alias=head))
        renamed = {f"f{next(counter)}_{i}": v for i, v in enumerate(fields.values())}
        names = dict(zip(fields, renamed, strict=True))
        model = pydantic.create_model(
            "Page_" + "_".join(prefix or ("root",)),
            __config__=pydantic.ConfigDict(extra="ignore", populate_by_name=False),
            **renamed,
        )
        model.__connectorgen_names__ = names
        return model

    root = build(())

    def get(obj: Any, path: tuple[str, ...]) -> Any:
        for key in path:
            if obj is None:
                return None
            obj = getattr(obj, obj.__connectorgen_names__[key])
        return obj

    signal_paths = _signal_paths(op)

    def extract(parsed: Any) -> tuple[list[Any], str | None, str | None, dict[str, Any]]:
        nxt, prv = _cursors(
            op,
            get(parsed, op.next_cursor_path) if op.next_cursor_path else None,
            get(parsed, op.prev_cursor_path) if op.prev_cursor_path else None,
            get(parsed, op.next_url_path) if op.next_url_path else None,
            get(parsed, op.prev_url_path) if op.prev_url_path else None,
        )
        signals = {name: get(parsed, path) for name, path in signal_paths.items()}
        return get(parsed, op.items_path or ()), nxt, prv, signals

    found = (TypeAdapter(root), extract)
    _PAGE_ADAPTERS[key] = found
    return found


def decode_page(
    content: bytes,
    op: OperationSpec,
    item_type: Any,
    *,
    strict: bool,
    where: str,
    status: int = 200,
    sent: Sequence[tuple[str, str]] = (),
    link: str | None = None,
) -> tuple[list[Any], str | None, str | None]:
    """Items (validated into `item_type` when given) and cursors of one list page.

    `sent` is the query the page was fetched with and `link` its `Link` header (see `raw_page`).
    """
    if item_type is None:
        return raw_page(loads(content, where, status), op, where, status, sent=sent, link=link)
    page_adapter, extract = _page_model(op, item_type)
    try:
        with _collection_paused():
            items, nxt, prv, signals = extract(page_adapter.validate_json(content))
        if op.pagination is not None:
            nxt = next_position(op, items, nxt, signals, sent, link)
    except ValidationError:  # another envelope shape than declared: read it from plain JSON
        items, nxt, prv = raw_page(
            loads(content, where, status), op, where, status, sent=sent, link=link
        )
    return _typed_items(items, item_type, strict, where, status), nxt, prv


def _typed_items(
    items: list[Any], item_type: Any, strict: bool, where: str, status: int
) -> list[Any]:
    """Every item as an `item_type` instance, the raw ones validated tolerantly (one warning a page).

    `item_type` may also be a union of models (items of mixed types, told apart by a discriminator).
    """
    is_class = isinstance(item_type, type)
    typed_as = item_type if is_class else pydantic.BaseModel
    if all(isinstance(item, typed_as) for item in items):
        return items
    item_adapter = adapter(item_type)
    out: list[Any] = []
    problems = Problems()
    for index, item in enumerate(items):
        if isinstance(item, typed_as):
            out.append(item)
            continue
        try:
            out.append(item_adapter.validate_python(item))
        except ValidationError as exc:
            if strict:
                raise _mismatch(item_type, exc, where, status) from None
            if (
                not isinstance(item, Mapping) or not is_class
            ):  # not one model's object: kept as it came
                problems.invalid[str(index)] = item
                out.append(item)
                continue
            typed, item_problems = _tolerant(item_type, item, exc, where, status)
            out.append(typed)
            problems.nest(str(index), item_problems)
    log_problems(problems, f"{item_type.__name__} items", where)
    return out


@contextmanager
def _collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while one page of models is built.

    Every object of a page stays alive until the page is returned, so the collections its thousands
    of allocations would trigger only traverse survivors; they took about a third of a page's
    validation time (see bench/README.md). Collection resumes right after, as usual; an application
    that turned it off keeps it off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# --- bounded response bodies ---------------------------------------------------------------------

_DECODE_PIECE: Final = 1024 * 1024
"""Most bytes decompressed at a time: one small compressed chunk may inflate a thousandfold."""


class BodyDecodeError(ValueError):
    """The body is not valid data for its Content-Encoding."""


class BodyReader:
    """Decodes a response body chunk by chunk and keeps at most `limit` decoded bytes.

    gzip and deflate are decompressed here, a bounded piece at a time, from the raw (still
    encoded) bytes: httpx would inflate each network chunk whole before any size check. When
    `wants_raw` is False (other encodings, left to httpx), feed it `iter_bytes()`, not `iter_raw()`.
    """

    __slots__ = (
        "_chunks",
        "_decompressor",
        "_raw_deflate_pending",
        "limit",
        "size",
        "truncated",
        "wants_raw",
    )

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.truncated = False
        self._chunks: list[bytes] = []
        self._decompressor: Any = None
        self._raw_deflate_pending = False
        encodings = [e.strip().lower() for e in (content_encoding or "").split(",") if e.strip()]
        self.wants_raw = True
        if encodings in (["gzip"], ["x-gzip"]):
            self._decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encodings == ["deflate"]:
            # Like httpx: zlib-wrapped deflate, or raw deflate when the first chunk says so.
            self._decompressor = zlib.decompressobj()
            self._raw_deflate_pending = True
        elif encodings not in ([], ["identity"]):
            self.wants_raw = False

    @classmethod
    def of_decoded(cls, limit: int) -> BodyReader:
        """A reader of bytes httpx has already decoded (its `iter_bytes()`)."""
        reader = cls(None, limit)
        reader.wants_raw = False
        return reader

    def decode(self, raw: bytes) -> Iterator[bytes]:
        """The decoded pieces of the next raw chunk, none longer than 1 MiB; raise BodyDecodeError."""
        decompressor = self._decompressor
        if decompressor is None:
            if raw:
                yield raw
            return
        pending = raw
        try:
            while True:
                try:
                    piece = decompressor.decompress(pending, _DECODE_PIECE)
                except zlib.error:
                    if not self._raw_deflate_pending:
                        raise
                    decompressor = self._decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
                    piece = decompressor.decompress(pending, _DECODE_PIECE)
                self._raw_deflate_pending = False
                if piece:
                    yield piece
                pending = decompressor.unconsumed_tail
                # A full piece may leave output inside zlib even with no input left.
                if not pending and len(piece) < _DECODE_PIECE:
                    return
        except zlib.error as exc:
            raise BodyDecodeError(f"invalid compressed body: {exc}") from exc

    def flush(self) -> Iterator[bytes]:
        """What the decompressor still holds once the raw body has ended."""
        if self._decompressor is not None:
            try:
                rest = self._decompressor.flush()
            except zlib.error as exc:
                raise BodyDecodeError(f"invalid compressed body: {exc}") from exc
            if rest:
                yield rest

    def feed(self, raw: bytes) -> bool:
        """Keep the decoded bytes of `raw`; True once `limit` is passed (the excess is dropped)."""
        return any(self._keep(piece) for piece in self.decode(raw))

    def finish(self) -> bool:
        """Keep what the decoder still holds; True when that passes `limit`."""
        return any(self._keep(piece) for piece in self.flush())

    def _keep(self, piece: bytes) -> bool:
        room = self.limit - self.size
        if len(piece) > room:
            self._chunks.append(piece[:room])
            self.size = self.limit
            self.truncated = True
            return True
        self._chunks.append(piece)
        self.size += len(piece)
        return False

    def content(self) -> bytes:
        return b"".join(self._chunks)

    def too_large(self, method: str, path: str, status: int) -> ResponseTooLargeError:
        return ResponseTooLargeError(limit=self.limit, method=method, path=path, status_code=status)


def binary_result(response: httpx.Response, hide_param: str | None = None) -> dict[str, Any]:
    """The result of a binary download; `hide_param` (a query-parameter API key) is left out of its URL."""
    content = response.content
    url = response.url
    if hide_param and hide_param in url.params:
        url = url.copy_remove_param(hide_param)
    return {
        "content_type": response.headers.get("content-type", "application/octet-stream"),
        "size": len(content),
        "content_base64": base64.b64encode(content).decode("ascii"),
        "url": str(url),
    }


def now() -> float:
    return time.perf_counter()
