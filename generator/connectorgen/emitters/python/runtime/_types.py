"""Small shared types: the NOT_GIVEN sentinel, per-call request options, file inputs and the
date-time type of the models."""

from __future__ import annotations

import os
from datetime import datetime
from typing import IO, Annotated, Any, Final, TypedDict

import httpx
from pydantic import BeforeValidator

__all__ = [
    "NOT_GIVEN",
    "ApiDatetime",
    "FileContent",
    "FileInput",
    "NotGiven",
    "RequestOptions",
    "Timeout",
]


class NotGiven:
    """Marks a keyword argument the caller did not pass (distinct from an explicit `None`).

    Body fields default to `NOT_GIVEN` so that `assignee_user=None` can still send a JSON `null`.
    """

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __reduce__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()

Timeout = float | httpx.Timeout | None


class RequestOptions(TypedDict, total=False):
    """Per-call overrides accepted by every generated method (`request_options=`)."""

    timeout: Timeout
    """Seconds (or an `httpx.Timeout`) for this call instead of the client's timeout."""
    max_retries: int
    """Retries for this call instead of the client's `max_retries`."""
    deadline: float | None
    """Seconds this whole call may take (every attempt, retry wait and rate-limit wait), instead
    of the client's `deadline`; exceeding it raises `APITimeoutError`."""
    extra_headers: dict[str, str]
    """Headers added to this call (they cannot replace the Authorization header)."""
    extra_query: dict[str, Any]
    """Query parameters added to this call."""


FileContent = bytes | IO[bytes] | os.PathLike[str]
"""The content of one file: bytes, an open binary file, or a path to read."""

FileInput = FileContent | tuple[str, FileContent] | tuple[str, FileContent, str]
"""A file to upload: its content, or `(name, content)` or `(name, content, content_type)`."""


def _empty_string_as_none(value: object) -> object:
    # Some objects carry "" instead of null for a date-time that is not set.
    return None if value == "" else value


ApiDatetime = Annotated[datetime | None, BeforeValidator(_empty_string_as_none)]
"""A date-time field of a model, read as the API writes it: ISO 8601 with or without an offset and
microseconds, a date alone (`2024-01-05`, read as midnight with no offset, like other offset-less
values), or `""` / null for no date-time (both read as `None`)."""
