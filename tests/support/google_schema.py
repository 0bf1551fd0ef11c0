"""Check Google Wallet request bodies against Google's own discovery document.

`walletobjects.v1.json` ships with google-api-python-client (a test-only dependency); it
lists every schema's fields, their JSON types, formats and enums. Google's API rejects an
unknown field, a wrong type, an unknown enum value, or an int64 sent as a JSON number
(int64 travels as a string), so these are problems here too. Fields whose description
starts with "Required." must be present in a full body (insert); a PATCH body may omit
them. Deprecated enum aliases (lowerCamel `active`, `underReview`, ...) are reported, since
Google may drop them.

Plain functions, no pytest: a stand-in Google Wallet HTTP server reuses `validate`.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import googleapiclient

_DOC = (
    Path(googleapiclient.__file__).parent
    / "discovery_cache"
    / "documents"
    / "walletobjects.v1.json"
)
_INT64_TEXT = re.compile(r"^-?\d+$")


class SchemaError(AssertionError):
    """A body does not match the discovery document."""


@functools.cache
def schemas() -> dict[str, dict[str, Any]]:
    doc = json.loads(_DOC.read_text(encoding="utf-8"))
    result: dict[str, dict[str, Any]] = doc["schemas"]
    return result


def _required(prop: dict[str, Any]) -> bool:
    description = prop.get("description", "")
    return description.startswith("Required") or "is a required field" in description


def validate(schema_name: str, body: dict[str, Any], *, patch: bool = False) -> list[str]:
    """Problems of `body` as a `schema_name` (e.g. "LoyaltyObject"); empty when valid."""
    all_schemas = schemas()
    if schema_name not in all_schemas:
        return [f"unknown schema {schema_name!r}"]
    problems: list[str] = []
    _check_object(all_schemas, all_schemas[schema_name], body, schema_name, patch, problems)
    return problems


def assert_valid(schema_name: str, body: dict[str, Any], *, patch: bool = False) -> None:
    problems = validate(schema_name, body, patch=patch)
    if problems:
        raise SchemaError(f"{schema_name} body is invalid:\n  " + "\n  ".join(problems))


def _check_object(
    all_schemas: dict[str, dict[str, Any]],
    schema: dict[str, Any],
    value: Any,
    path: str,
    patch: bool,
    problems: list[str],
) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object, got {type(value).__name__}")
        return
    props: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        where = f"{path}.{key}"
        if key in props:
            _check_value(all_schemas, props[key], item, where, patch, problems)
        elif extra is not None:
            _check_value(all_schemas, extra, item, where, patch, problems)
        else:
            problems.append(f"{where}: unknown field")
    if not patch:
        for key, prop in props.items():
            if _required(prop) and key not in value:
                problems.append(f"{path}.{key}: required field missing")


def _check_value(
    all_schemas: dict[str, dict[str, Any]],
    prop: dict[str, Any],
    value: Any,
    path: str,
    patch: bool,
    problems: list[str],
) -> None:
    if value is None:
        problems.append(f"{path}: null (omit the field instead)")
        return
    ref = prop.get("$ref")
    if ref is not None:
        target = all_schemas.get(ref)
        if target is None:
            problems.append(f"{path}: schema {ref!r} not in the discovery document")
            return
        # Only the top level of a PATCH may be partial: a sub-object sent in it replaces
        # the stored one, so it needs its own required fields.
        _check_object(all_schemas, target, value, path, False, problems)
        return
    kind = prop.get("type")
    fmt = prop.get("format")
    if kind == "array":
        if not isinstance(value, list):
            problems.append(f"{path}: expected an array, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check_value(all_schemas, prop.get("items", {}), item, f"{path}[{i}]", patch, problems)
        return
    if kind == "object":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object, got {type(value).__name__}")
            return
        extra = prop.get("additionalProperties")
        if extra is not None:
            for key, item in value.items():
                _check_value(all_schemas, extra, item, f"{path}.{key}", patch, problems)
        return
    if kind == "string":
        if not isinstance(value, str):
            hint = " (int64 travels as a JSON string)" if fmt in ("int64", "uint64") else ""
            problems.append(f"{path}: expected a string, got {type(value).__name__}{hint}")
            return
        if fmt in ("int64", "uint64") and not _INT64_TEXT.match(value):
            problems.append(f"{path}: {value!r} is not an {fmt} decimal string")
        enum = prop.get("enum")
        if enum is not None:
            if value not in enum:
                problems.append(f"{path}: {value!r} is not one of {enum}")
            else:
                deprecated = prop.get("enumDeprecated")
                if deprecated and deprecated[enum.index(value)]:
                    problems.append(f"{path}: {value!r} is a deprecated enum alias")
        return
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path}: expected an integer, got {type(value).__name__}")
        elif fmt == "int32" and not -(2**31) <= value < 2**31:
            problems.append(f"{path}: {value} does not fit int32")
        elif fmt == "uint32" and not 0 <= value < 2**32:
            problems.append(f"{path}: {value} does not fit uint32")
        return
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{path}: expected a number, got {type(value).__name__}")
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected a boolean, got {type(value).__name__}")
        return
    if kind == "any" or kind is None:
        return
    problems.append(f"{path}: unsupported schema type {kind!r}")
