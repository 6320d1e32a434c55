"""The base class of every model: tolerant per field, not per object.

`Model.model_validate(payload)` (and `model_validate_json`, and the client's response parsing) first
validates with pydantic's compiled validator alone, so a payload that matches costs nothing extra.
Only when that fails is the payload repaired using the error locations: each value that does not
match is left out at its exact path (a field falls back to its default, a list item or mapping
value is skipped) and kept raw in the result's `model_invalid_fields`, then the rest is validated
again. Every other field stays typed: nested objects are model instances, date-times are
`datetime`s. A required field whose value is off or absent is `None`. One warning per payload (on
the package's logger) lists the paths, never the values.

Strict parsing stays available: pass `strict=True` (pydantic's strict types) or `strict=False`
(pydantic's lax types) to `model_validate` / `model_validate_json` to get pydantic's own behaviour,
a `ValidationError` on the first mismatch; the client raises `APIResponseValidationError` with
`strict_response_validation=True`.
"""

from __future__ import annotations

import json
import logging
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, Self, TypeVar

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model
from pydantic.fields import FieldInfo

from ._spec import IMPORT_NAME

__all__ = ["Problems", "TolerantModel", "log_problems", "validate_tolerantly"]

logger: Final = logging.getLogger(IMPORT_NAME)

M = TypeVar("M", bound=BaseModel)

_INVALID_KEY: Final = "_invalid_fields"
"""Where an instance keeps its left-out raw values: a key of pydantic's per-instance private dict,
so models without problems carry nothing and the fast path does no per-instance Python work."""

_MAX_LOGGED_PATHS: Final = 20


class _Dropped:
    """Marks a value the repair left out."""


_DROPPED: Final = _Dropped()


@dataclass
class Problems:
    """What a tolerant validation left out: raw values by dotted path, and absent required fields."""

    invalid: dict[str, Any] = field(default_factory=dict, repr=False)  # raw values may be secret
    missing: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.invalid or self.missing)

    def nest(self, prefix: str, inner: Problems) -> None:
        """Add the problems of a value found at `prefix`."""
        self.invalid.update({f"{prefix}.{path}": raw for path, raw in inner.invalid.items()})
        self.missing.extend(f"{prefix}.{path}" for path in inner.missing)

    def forget(self, key: str) -> None:
        """Drop what was recorded inside `key` (the whole value is left out instead)."""
        inside = f"{key}."
        self.invalid = {
            path: raw for path, raw in self.invalid.items() if not path.startswith(inside)
        }
        self.missing = [path for path in self.missing if not path.startswith(inside)]

    def paths(self) -> list[str]:
        return [*self.invalid, *(f"{path} (missing)" for path in self.missing)]


class TolerantModel(BaseModel):
    """A pydantic model whose validation keeps going past values that do not match (see module)."""

    @property
    def model_invalid_fields(self) -> dict[str, Any]:
        """Raw values left out by a tolerant validation, by dotted path in the payload
        (`{"messages.0.source.from": "oops"}`); empty when everything matched."""
        private = self.__pydantic_private__
        return dict(private.get(_INVALID_KEY, {})) if private else {}

    @classmethod
    def model_validate(cls, obj: Any, *, strict: bool | None = None, **kwargs: Any) -> Self:
        """Validate `obj`; values that do not match are left out and reported (see module).

        With `strict=True` or `strict=False` this is pydantic's own validation, raising
        `ValidationError` on the first mismatch.
        """
        try:
            return super().model_validate(obj, strict=strict, **kwargs)
        except ValidationError as exc:
            if strict is not None or not isinstance(obj, Mapping):
                raise
            first_error = exc
        try:
            instance, problems = validate_tolerantly(cls, obj, first_error)
        except RecursionError:  # nested too deeply to repair: pydantic's own error
            raise first_error from None
        log_problems(problems, cls.__name__)
        return instance

    @classmethod
    def model_validate_json(
        cls, json_data: str | bytes | bytearray, *, strict: bool | None = None, **kwargs: Any
    ) -> Self:
        """Parse and validate a JSON document, tolerantly like `model_validate` (invalid JSON raises)."""
        try:
            return super().model_validate_json(json_data, strict=strict, **kwargs)
        except ValidationError as exc:
            data = _json_object(json_data) if strict is None else None
            if data is None:
                raise
            first_error = exc
        try:
            instance, problems = validate_tolerantly(cls, data)
        except RecursionError:  # nested too deeply to repair: pydantic's own error
            raise first_error from None
        log_problems(problems, cls.__name__)
        return instance


def log_problems(problems: Problems, what: str, where: str | None = None) -> None:
    """One warning for one payload, listing the paths left out (values are never logged)."""
    if not problems:
        return
    paths = [path if path.isprintable() else repr(path) for path in problems.paths()]
    shown = ", ".join(paths[:_MAX_LOGGED_PATHS])
    if len(paths) > _MAX_LOGGED_PATHS:
        shown += f" and {len(paths) - _MAX_LOGGED_PATHS} more"
    logger.warning(
        "%s%s: %d value(s) do not match the model, left out (raw values in model_invalid_fields): %s",
        f"{where}: " if where else "",
        what,
        len(paths),
        shown,
    )


def _json_object(json_data: str | bytes | bytearray) -> dict[str, Any] | None:
    try:
        data = json.loads(json_data)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# --- repair ------------------------------------------------------------------------------------


def validate_tolerantly(
    model: type[M], data: Mapping[str, Any], error: ValidationError | None = None
) -> tuple[M, Problems]:
    """`data` validated into `model`, leaving out (and returning) what does not match.

    `error` is the `ValidationError` a plain validation of `data` already raised, if any. The
    problems (paths relative to `data`) are also kept on the instance, and on each nested instance
    relative to it.
    """
    if error is None:
        try:
            return model.__pydantic_validator__.validate_python(data), Problems()
        except ValidationError as exc:
            error = exc
    problems = Problems()
    fixed = dict(data)
    fields = _fields_by_key(model)
    for key in _failing_keys(error):
        field_info = fields.get(key)
        if key not in data or field_info is None:
            continue  # absent required field: handled by _validated_leniently
        value, inner = _repaired(_field_type(field_info), data[key])
        if value is _DROPPED:
            problems.invalid[key] = data[key]
            del fixed[key]
        else:
            fixed[key] = value
            problems.nest(key, inner)
    instance = _validated_leniently(model, data, fixed, problems)
    if problems:
        private = instance.__pydantic_private__ or {}
        object.__setattr__(
            instance, "__pydantic_private__", {**private, _INVALID_KEY: dict(problems.invalid)}
        )
    return instance, problems


def _validated_leniently(
    model: type[M], data: Mapping[str, Any], fixed: dict[str, Any], problems: Problems
) -> M:
    """Validate the repaired `fixed`, leaving out whatever still fails; absent required fields are None."""
    validating: type[M] = model
    while True:  # each round leaves out a key or relaxes the model once, so it ends
        try:
            validated: M = validating.__pydantic_validator__.validate_python(fixed)
            return _as_instance_of(model, validated)
        except ValidationError as exc:
            keys = _failing_keys(exc)
        present = [key for key in keys if key in fixed]
        for key in present:
            problems.forget(key)
            problems.invalid[key] = data.get(key, fixed[key])
            del fixed[key]
        if present:
            continue
        if validating is model:
            problems.missing.extend(key for key in keys if key not in data)
            validating = _required_as_optional(model)
            continue
        return model.model_construct(**fixed)  # pragma: no cover - nothing left to leave out


def _as_instance_of(model: type[M], instance: M) -> M:
    """`instance` itself, or when it is one of the relaxed model, the same state in a `model`
    (so it compares, pickles and type-checks as any other)."""
    if type(instance) is model:
        return instance
    same = model.__new__(model)
    same.__setstate__(instance.__getstate__())
    return same


def _repaired(annotation: Any, value: Any) -> tuple[Any, Problems]:
    """`value` validated as `annotation`, repaired inside objects, lists and mappings, or _DROPPED."""
    shape = _unwrapped(annotation)
    origin = typing.get_origin(shape)
    if isinstance(shape, type) and issubclass(shape, BaseModel) and isinstance(value, Mapping):
        return validate_tolerantly(shape, value)
    if origin is list and isinstance(value, list):
        items, problems = _repaired_items(typing.get_args(shape)[0], enumerate(value))
        return list(items.values()), problems
    if origin is dict and isinstance(value, Mapping) and len(typing.get_args(shape)) == 2:
        return _repaired_items(typing.get_args(shape)[1], value.items())
    try:
        return _adapter(annotation).validate_python(value), Problems()
    except ValidationError:
        return _DROPPED, Problems()


def _repaired_items(
    item_type: Any, pairs: Iterable[tuple[Any, Any]]
) -> tuple[dict[Any, Any], Problems]:
    kept: dict[Any, Any] = {}
    problems = Problems()
    for key, item in pairs:
        value, inner = _repaired(item_type, item)
        if value is _DROPPED:
            problems.invalid[str(key)] = item
        else:
            kept[key] = value
            problems.nest(str(key), inner)
    return kept, problems


def _failing_keys(error: ValidationError) -> list[str]:
    """The top-level keys the errors are about, each once, in order."""
    errors = error.errors(include_url=False, include_context=False, include_input=False)
    return list(
        dict.fromkeys(e["loc"][0] for e in errors if e["loc"] and isinstance(e["loc"][0], str))
    )


def _unwrapped(annotation: Any) -> Any:
    """The shape under `Annotated[...]`, type aliases and `X | None`."""
    while True:
        if type(annotation).__name__ == "TypeAliasType":
            annotation = annotation.__value__
        elif typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _field_type(field_info: FieldInfo) -> Any:
    """The field's annotation with its constraints (`Field(ge=1)` lives in the metadata)."""
    if not field_info.metadata:
        return field_info.annotation
    return typing.Annotated[(field_info.annotation, *field_info.metadata)]


@cache
def _fields_by_key(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """Fields by name and by alias, the keys an error location may use."""
    # Models with forward references are completed on first use; until then their fields'
    # annotations are unresolved `ForwardRef`s the repair could not follow.
    model.model_rebuild()
    fields: dict[str, FieldInfo] = {}
    for name, field_info in model.model_fields.items():
        fields[name] = field_info
        if field_info.alias:
            fields[field_info.alias] = field_info
    return fields


@cache
def _required_as_optional(model: type[M]) -> type[M]:
    """A subclass of `model` whose required fields default to None, for payloads that lack them."""
    relaxed: dict[str, Any] = {
        name: (typing.Optional[field_info.annotation], Field(None, alias=field_info.alias))  # noqa: UP045
        for name, field_info in model.model_fields.items()
        if field_info.is_required()
    }
    return create_model(model.__name__, __base__=model, __module__=model.__module__, **relaxed)


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(annotation: Any) -> TypeAdapter[Any]:
    try:
        return _ADAPTERS[annotation]
    except KeyError:
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        _ADAPTERS[annotation] = adapter
        return adapter
    except TypeError:  # unhashable annotation: not cached (slow path only)
        return TypeAdapter(annotation)
