"""The error hierarchy of the client.

Every error derives from the package's base error (`<ClientClass>Error`, declared in `_spec` and
re-exported here). HTTP error statuses raise an `APIError` subclass chosen by status and carry the
status code, the message the API gave (found at the definition's message paths), the
per-field validation messages, the method and the path (never the query string, which may carry
secrets) and a request id when the response has one. Credentials never appear in any message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._spec import *  # noqa: F403  (re-exports the package's base error under its own name)
from ._spec import CODE_KEY as _CODE_KEY
from ._spec import FIELD_ERRORS_PATH as _FIELD_ERRORS_PATH
from ._spec import FIELD_ERRORS_TYPE as _FIELD_ERRORS_TYPE
from ._spec import FIELD_KEY as _FIELD_KEY
from ._spec import MESSAGE_KEY as _MESSAGE_KEY
from ._spec import MESSAGE_PATHS as _MESSAGE_PATHS
from ._spec import REQUEST_ID_HEADERS as _REQUEST_ID_HEADERS
from ._spec import PackageError

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "InvalidArgumentsError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ServerError",
    "make_status_error",
]

_MAX_MESSAGE = 500


class ConfigurationError(PackageError, ValueError):
    """The client was created without what it needs (credentials, subdomain...)."""


class InvalidArgumentsError(PackageError, ValueError):
    """Arguments were rejected before any HTTP request was sent.

    `errors` maps each offending argument (dotted path for nested body fields) to its messages.
    """

    def __init__(self, operation: str, errors: Mapping[str, list[str]]) -> None:
        self.operation = operation
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in errors.items()}
        details = "; ".join(f"{field}: {', '.join(msgs)}" for field, msgs in self.errors.items())
        super().__init__(f"invalid arguments for {operation}: {details}")

    @property
    def field_errors(self) -> dict[str, list[str]]:
        return self.errors


class APIResponseValidationError(PackageError):
    """A successful response did not have the documented shape (for example not JSON)."""

    def __init__(self, message: str, *, method: str, path: str, status_code: int) -> None:
        self.method = method
        self.path = path
        self.status_code = status_code
        super().__init__(f"{message} ({method} {path}, status {status_code})")


class ResponseTooLargeError(APIResponseValidationError):
    """A response body passed `max_response_bytes` once decoded; reading stopped there.

    Raised instead of holding an unbounded body (or a decompression bomb) in memory. Raise the
    client's `max_response_bytes`, or stream large files to disk with a download's `to=`.
    """

    def __init__(self, *, limit: int, method: str, path: str, status_code: int) -> None:
        self.limit = limit
        super().__init__(
            f"response body is larger than max_response_bytes={limit} once decoded",
            method=method,
            path=path,
            status_code=status_code,
        )


class APIConnectionError(PackageError):
    """The request could not be sent or no response arrived (DNS, TLS, connection reset...)."""

    def __init__(self, message: str, *, method: str, path: str) -> None:
        self.method = method
        self.path = path
        self.message = message
        super().__init__(f"{message} ({method} {path})")


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIError(PackageError):
    """The API answered with an error status."""

    status_code: int
    message: str
    field_errors: dict[str, list[str]]
    method: str
    path: str
    request_id: str | None
    body: Any

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        method: str,
        path: str,
        field_errors: Mapping[str, list[str]] | None = None,
        request_id: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.message = message
        self.field_errors = {k: list(v) for k, v in (field_errors or {}).items()}
        self.method = method
        self.path = path
        self.request_id = request_id
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(self._render())

    def _render(self) -> str:
        text = f"{self.status_code} {self.method} {self.path}: {self.message}"
        if self.field_errors:
            details = "; ".join(f"{k}: {', '.join(v)}" for k, v in self.field_errors.items())
            text += f" ({details})"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, method={self.method!r}, path={self.path!r}, message={self.message!r})"


class BadRequestError(APIError):
    """400 or 422: missing or invalid parameters; see `field_errors`."""


class AuthenticationError(APIError):
    """401: missing, invalid or expired credentials."""


class PermissionDeniedError(APIError):
    """403: the user behind the credentials may not do this."""


class NotFoundError(APIError):
    """404: no such object (or no such account subdomain)."""


class ConflictError(APIError):
    """409: the object already exists or is still in use."""


class PayloadTooLargeError(APIError):
    """413: the request body (for example an upload) is too large."""


class RateLimitError(APIError):
    """429: the account's rate limit is exhausted; `retry_after` says how long to wait (seconds)."""

    retry_after: float | None

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ServerError(APIError):
    """5xx: the API failed to process the request."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: BadRequestError,
    429: RateLimitError,
}


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _field_errors(data: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not isinstance(data, Mapping):
        return out
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_field_errors(value, f"{name}."))
        elif isinstance(value, list | tuple):
            messages = [str(v) for v in value if not isinstance(v, Mapping)]
            for i, v in enumerate(value):
                if isinstance(v, Mapping):
                    out.update(_field_errors(v, f"{name}.{i}."))
            if messages:
                out[name] = messages
        elif value is not None:
            out[name] = [str(value)]
    return out


def _entry_message(entry: Any) -> str | None:
    """The message of one field-error object (its code when it has no message)."""
    if not isinstance(entry, Mapping):
        return None if entry is None else str(entry)
    for key in (_MESSAGE_KEY, _CODE_KEY):
        value = entry.get(key) if key else None
        if value is not None and str(value).strip():
            return str(value)
    return None


def _object_field_errors(data: Any) -> dict[str, list[str]]:
    """Field errors declared as objects: a map of object lists or a list of objects."""
    out: dict[str, list[str]] = {}
    if _FIELD_ERRORS_TYPE == "object_list":
        entries = data if isinstance(data, list | tuple) else []
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            field = entry.get(_FIELD_KEY) if _FIELD_KEY else None
            message = _entry_message(entry)
            if message is not None:
                out.setdefault(str(field) if field is not None else "_", []).append(message)
        return out
    if not isinstance(data, Mapping):
        return out
    for key, value in data.items():
        values = value if isinstance(value, list | tuple) else [value]
        messages = [m for m in (_entry_message(v) for v in values) if m is not None]
        if messages:
            out[str(key)] = messages
    return out


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def parse_error_body(
    content: bytes, content_type: str
) -> tuple[Any, str | None, dict[str, list[str]]]:
    """(parsed body or None, message or None, field errors) of an error response body."""
    if not content:
        return None, None, {}
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        data = None
    if data is None:
        text = content.decode("utf-8", "replace")
        if "html" in content_type.lower() or text.lstrip().startswith("<"):
            return (
                None,
                "the server answered an HTML page instead of JSON (check the subdomain or base URL)",
                {},
            )
        return None, _short(text) or None, {}
    message: str | None = None
    for path in _MESSAGE_PATHS:
        found = _dig(data, path)
        if isinstance(found, str) and found.strip():
            message = _short(found)
            break
    if not _FIELD_ERRORS_PATH:
        errors: dict[str, list[str]] = {}
    elif _FIELD_ERRORS_TYPE == "string_lists":
        errors = _field_errors(_dig(data, _FIELD_ERRORS_PATH))
    else:
        errors = _object_field_errors(_dig(data, _FIELD_ERRORS_PATH))
    return data, message, errors


def make_status_error(
    *,
    status_code: int,
    method: str,
    path: str,
    content: bytes,
    headers: Mapping[str, str],
    retry_after: float | None = None,
) -> APIError:
    """The typed error for an HTTP error response."""
    try:
        body, message, field_errors = parse_error_body(content, headers.get("content-type", ""))
    except RecursionError:  # field errors nested deeper than Python can walk
        body, message, field_errors = None, None, {}
    request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "method": method,
        "path": path,
        "field_errors": field_errors,
        "request_id": request_id,
        "body": body,
        "headers": headers,
    }
    text = message or f"HTTP {status_code}"
    if status_code == 429:
        return RateLimitError(text, retry_after=retry_after, **kwargs)
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = ServerError if status_code >= 500 else APIError
    return cls(text, **kwargs)
