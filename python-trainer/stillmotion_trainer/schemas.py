"""The JSON Schemas of schemas/ (run config, dataset manifest): loading, and errors in words.

`schema_errors` words violations exactly as the TypeScript orchestrator does
(packages/orchestrator/src/config/schema-errors.ts); tools/parity/config-error-cases.json holds
the cases both sides are tested against. jsonschema finds the violations, this module only
words them, one `path: message` line per problem, sorted, duplicates dropped:

    <path.key>: unknown key. Should be one of: <sorted keys>
    <path.key>: required key is missing
    <path>: must be of type <t1 or t2>, got <value>
    <path>: unsupported value <value>. Should be one of: <v1, v2>   (enum; const: must be <v>)
    <path>: must be >= | <= | > | < <limit>, got <value>
    <path>: must be at least | at most <n> character(s) long, got <value>
    <path>: must have at least | at most <n> item(s), got <value>

A value that must match one of several shapes (oneOf) is checked against the shape of its own
JSON type, so `patience: 0` inside an early_stopping object reports the minimum, not "no match".
Values are shown as JavaScript's JSON.stringify shows them (`json_text`), so both languages
print `1e-7`, `0.00001` and `[32,48]` alike.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    """schemas/<name> parsed (cached); FileNotFoundError naming the path when it is missing."""
    path = SCHEMA_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: schema not found")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def json_path(parts: Iterable[Any]) -> str:
    """A location in a JSON document as `videos[0].frames[3].image`; the root is `(root)`."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(root)"


def js_number(x: float) -> str:
    """A float as ECMAScript's Number::toString writes it (the shortest round-trip digits).

    With the digits d1..dk and n such that x = 0.d1..dk * 10^n: plain notation for
    -6 < n <= 21 (`100`, `0.5`, `0.00001`), else `d1.d2..dke±(n-1)` (`1e-7`, `1.25e+21`).
    """
    if math.isnan(x) or math.isinf(x):
        return "null"  # what JSON.stringify writes for them
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    digits_tuple, exponent = Decimal(repr(abs(x))).normalize().as_tuple()[1:]
    digits = "".join(str(d) for d in digits_tuple)
    k = len(digits)
    n = int(exponent) + k
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{sign}{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return f"{sign}0.{'0' * -n}{digits}"
    e = n - 1
    mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def json_text(value: Any) -> str:
    """`value` as JavaScript's JSON.stringify writes it (no spaces, JS number formatting)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return js_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}:{json_text(v)}" for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    return json.dumps(str(value), ensure_ascii=False)


def json_type(value: Any) -> str:
    """The JSON type name of a value, as the schema's `type` keyword names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    return "object"


def _types(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    return [] if t is None else (list(t) if isinstance(t, list) else [t])


def _type_fits(schema: dict[str, Any], value: Any) -> bool:
    """Whether `value` has one of the JSON types the branch allows (an integer is a number too)."""
    actual = json_type(value)
    return any(t == actual or (t == "number" and actual == "integer") for t in _types(schema))


_BOUNDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


def _describe(error: Any) -> Iterator[str]:
    """The shared wording of one jsonschema error (and, for oneOf, of the fitting branch's)."""
    path = list(error.absolute_path)
    where = json_path(path)
    kind, limit, value = error.validator, error.validator_value, error.instance
    got = f", got {json_text(value)}"
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        for key in sorted(set(value) - set(allowed)):
            yield f"{json_path([*path, key])}: unknown key. Should be one of: {', '.join(allowed)}"
    elif kind == "required":
        for key in limit:
            if key not in value:
                yield f"{json_path([*path, key])}: required key is missing"
    elif kind == "type":
        yield f"{where}: must be of type {' or '.join(_types(schema))}{got}"
    elif kind == "enum":
        choices = ", ".join(json_text(v) for v in limit)
        yield f"{where}: unsupported value {json_text(value)}. Should be one of: {choices}"
    elif kind == "const":
        yield f"{where}: must be {json_text(limit)}{got}"
    elif kind in _BOUNDS:
        yield f"{where}: must be {_BOUNDS[kind]} {json_text(limit)}{got}"
    elif kind in ("minLength", "maxLength"):
        most = "at least" if kind == "minLength" else "at most"
        yield f"{where}: must be {most} {limit} character(s) long{got}"
    elif kind in ("minItems", "maxItems"):
        most = "at least" if kind == "minItems" else "at most"
        yield f"{where}: must have {most} {limit} item(s){got}"
    elif kind == "oneOf":
        fits = [i for i, branch in enumerate(limit) if _type_fits(branch, value)]
        if fits:
            for sub in error.context or []:
                if sub.relative_schema_path[0] == fits[0]:
                    yield from _describe(sub)
        else:
            types = [t for branch in limit for t in _types(branch)]
            yield f"{where}: must be of type {' or '.join(types)}{got}"
    else:
        yield f"{where}: {error.message}{got}"


def schema_errors(instance: Any, schema_name: str) -> list[str]:
    """Every violation of schemas/<schema_name> as `path: message`, sorted (empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    return sorted({line for e in validator.iter_errors(instance) for line in _describe(e)})
