"""JSON Schema support: validators over the definition's schemas, field errors in the API's shape,
blank values for new objects, and query/path parameter coercion."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from ._spec import SPEC

REF = "#/$defs/"
SCHEMAS: dict[str, Any] = SPEC["schemas"]
PREFERRED_VALUES = (
    "api",
    "open",
    "normal",
    "active",
    "ticket-list",
    "text",
    "user",
    "http",
    "email",
)

FORMATS = FormatChecker(formats=())


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parse_datetime(value)
    return True


def _is_email(value: object) -> bool:
    if isinstance(value, str) and not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
        raise ValueError("not an e-mail address")
    return True


FORMATS.checks("date-time", raises=ValueError)(_is_datetime)
FORMATS.checks("email", raises=ValueError)(_is_email)


def parse_datetime(value: str) -> datetime:
    text = value.strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        raise ValueError(f"not a datetime: {value!r}")
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def format_datetime(moment: datetime) -> str:
    """The API's datetime form: UTC with microseconds and an explicit offset."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def canonical_datetime(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return format_datetime(parse_datetime(value))
        except ValueError:
            return value
    return value


# --- schema navigation -------------------------------------------------------------------------


def resolve(schema: Any) -> Any:
    """Follow `$ref` chains and drop the `null` branch of `anyOf` (nullable wrappers)."""
    for _ in range(20):
        if not isinstance(schema, dict):
            return schema
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            schema = SCHEMAS.get(ref[len(REF) :], {})
            continue
        if "anyOf" in schema:
            branches = [
                b for b in schema["anyOf"] if not (isinstance(b, dict) and b.get("type") == "null")
            ]
            if len(branches) == 1:
                schema = branches[0]
                continue
        return schema
    return schema


def types_of(schema: Any) -> set[str]:
    if not isinstance(schema, dict):
        return set()
    t = schema.get("type")
    if isinstance(t, str):
        return {t}
    if isinstance(t, list):
        return set(t)
    return set()


def nullable(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return True
    if "null" in types_of(schema):
        return True
    if "anyOf" in schema:
        return any(
            isinstance(b, dict) and (b.get("type") == "null" or nullable(b) and "anyOf" in b)
            for b in schema["anyOf"]
        )
    if not schema or ("type" not in schema and "$ref" not in schema and "anyOf" not in schema):
        return True
    return False


def properties(schema: Any) -> dict[str, Any]:
    schema = resolve(schema)
    props = schema.get("properties") if isinstance(schema, dict) else None
    return props if isinstance(props, dict) else {}


def schema_props(name: str | None) -> dict[str, Any]:
    return properties({"$ref": REF + name}) if name else {}


def is_datetime_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and resolve(schema).get("format") == "date-time"


def blank_value(schema: Any) -> Any:
    """The emptiest valid value of a property: its default, null, or an empty value of its type."""
    if isinstance(schema, dict) and "default" in schema:
        return json.loads(json.dumps(schema["default"]))
    if nullable(schema):
        return None
    resolved = resolve(schema)
    if not isinstance(resolved, dict):
        return None
    if "default" in resolved:
        return json.loads(json.dumps(resolved["default"]))
    if "enum" in resolved and resolved["enum"]:
        return resolved["enum"][0]
    types = types_of(resolved)
    if "string" in types:
        known = resolved.get("x-known-values") or []
        for value in PREFERRED_VALUES:
            if value in known:
                return value
        return known[0] if known else ""
    if "integer" in types or "number" in types:
        return max(0, resolved.get("minimum", 0))
    if "boolean" in types:
        return False
    if "array" in types:
        return []
    if "object" in types or "properties" in resolved:
        out = {}
        for name in resolved.get("required", []):
            out[name] = blank_value((resolved.get("properties") or {}).get(name, {}))
        return out
    return None


# --- validation --------------------------------------------------------------------------------


@lru_cache(maxsize=2048)
def _validator(key: str) -> Draft202012Validator:
    schema = json.loads(key)
    if isinstance(schema, dict):
        schema = {**schema, "$defs": SCHEMAS}
    return Draft202012Validator(schema, format_checker=FORMATS)


def validator(schema: Any) -> Draft202012Validator:
    return _validator(json.dumps(schema, sort_keys=True))


def named(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def errors(schema: Any, instance: Any) -> list[ValidationError]:
    return sorted(validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))


def is_valid(schema: Any, instance: Any) -> bool:
    return bool(validator(schema).is_valid(instance))


def _type_message(expected: Any, instance: Any) -> str:
    if instance is None:
        return "Field may not be null."
    names = expected if isinstance(expected, list) else [expected]
    names = [n for n in names if n != "null"]
    words = {
        "integer": "Not a valid integer.",
        "number": "Not a valid number.",
        "string": "Not a valid string.",
        "boolean": "Not a valid boolean.",
        "array": "Not a valid list.",
        "object": "Not a valid mapping type.",
    }
    if len(names) == 1:
        return words.get(names[0], "Invalid value.")
    return "Invalid value."


def message_for(error: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    """(path, message) pairs for one validation error, worded like the API's own messages."""
    path = tuple(error.absolute_path)
    v = error.validator
    if v == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        return [(path + (name,), "Missing data for required field.") for name in missing] or [
            (path, "Missing data for required field.")
        ]
    if v == "type":
        return [(path, _type_message(error.validator_value, error.instance))]
    if v == "enum":
        return [(path, "Must be one of: " + ", ".join(str(x) for x in error.validator_value) + ".")]
    if v == "const":
        return [(path, f"Must be equal to {error.validator_value}.")]
    if v in ("minLength", "minItems"):
        return [(path, f"Shorter than minimum length {error.validator_value}.")]
    if v in ("maxLength", "maxItems"):
        return [(path, f"Longer than maximum length {error.validator_value}.")]
    if v in ("minimum", "exclusiveMinimum"):
        return [(path, f"Must be greater than or equal to {error.validator_value}.")]
    if v in ("maximum", "exclusiveMaximum"):
        return [(path, f"Must be less than or equal to {error.validator_value}.")]
    if v == "format":
        word = {"date-time": "Not a valid datetime.", "email": "Not a valid email address."}
        return [(path, word.get(str(error.validator_value), "Invalid value."))]
    if v == "pattern":
        return [(path, "String does not match expected pattern.")]
    if v == "additionalProperties":
        extra = (
            re.findall(r"'([^']+)'", error.message.split("(")[-1]) if "(" in error.message else []
        )
        return [(path + (name,), "Unknown field.") for name in extra] or [(path, "Unknown field.")]
    if v == "minProperties":
        return [(path, "Provide at least one field.")]
    if v in ("anyOf", "oneOf") and error.context:
        relevant = [
            e for e in error.context if not (e.validator == "type" and e.validator_value == "null")
        ]
        if relevant:
            best = min(relevant, key=lambda e: (e.validator == "type", -len(list(e.absolute_path))))
            return message_for(best)
    return [(path, "Invalid value.")]


def field_errors(errs: list[ValidationError], prefix: tuple[Any, ...] = ()) -> dict[str, Any]:
    """Nest messages by field: `{"messages": {"0": {"channel": ["Missing data for required field."]}}}`."""
    out: dict[str, Any] = {}
    for error in errs:
        for path, message in message_for(error):
            full = prefix + path
            if not full:
                full = ("_schema",)
            node = out
            for part in full[:-1]:
                key = str(part)
                child = node.get(key)
                if not isinstance(child, dict):
                    child = {}
                    node[key] = child
                node = child
            leaf = node.setdefault(str(full[-1]), [])
            if isinstance(leaf, list) and message not in leaf:
                leaf.append(message)
    return out


# --- parameters --------------------------------------------------------------------------------


def coerce(value: Any, schema: Any) -> Any:
    """Turn the text of a query or path parameter into the JSON type its schema declares."""
    resolved: Any = resolve(schema) if isinstance(schema, dict) else {}
    types = types_of(resolved)
    if isinstance(value, list):
        item = resolved.get("items", {}) if isinstance(resolved, dict) else {}
        return [coerce(v, item) for v in value]
    if isinstance(value, dict):
        props = resolved.get("properties", {}) if isinstance(resolved, dict) else {}
        return {k: coerce(v, props.get(k, {})) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    if value == "" and "null" in types:
        return None
    if "integer" in types and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value)
    if "number" in types:
        try:
            return float(value) if not re.fullmatch(r"[+-]?\d+", value.strip()) else int(value)
        except ValueError:
            return value
    if "boolean" in types and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    return value
