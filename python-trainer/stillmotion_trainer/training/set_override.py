"""The one `--set key.path=value` grammar, shared with the TypeScript orchestrator
(packages/orchestrator/src/config/set-override.ts); tools/parity/set-grammar-cases.json holds the
cases both sides are tested against.

- key.path: dot-separated keys of letters, digits, `_`, `-` and `$`; never `__proto__`,
  `constructor` or `prototype` (the orchestrator would reach Object.prototype with them).
- value: one line of YAML 1.2, core schema, flow style: `1e-3` and `0x1F` are numbers,
  `true`/`False` booleans, `null`/`~`/nothing null, `[1, 2]` a list, `{a: 1}` a mapping,
  anything else (or anything quoted) a string. `yes`/`on` stay strings (that was YAML 1.1).
  Refused: anchors and aliases, tags, block lists and mappings, duplicate or non-string mapping
  keys, numbers JSON cannot carry exactly (inf, nan, integers past 2^53 - 1).

PyYAML only parses (its event stream; it implements YAML 1.1, where `1e-3` is a string): the
scalars are resolved here, by the same regular expressions as the TypeScript side.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from stillmotion_trainer.schemas import json_text
from stillmotion_trainer.training.config_error import ConfigError

# Names that would reach Object.prototype in the orchestrator instead of the config.
UNSAFE_KEYS = frozenset(("__proto__", "constructor", "prototype"))
_KEY = re.compile(r"[A-Za-z0-9_$-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STREAM_SYNTAX = re.compile(r"\s*(%|(---|\.\.\.)(\s|$))")  # a value is one node, not a stream

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), for plain scalars.
_NULL = re.compile(r"null|Null|NULL|~|")
_TRUE = re.compile(r"true|True|TRUE")
_FALSE = re.compile(r"false|False|FALSE")
_INT10 = re.compile(r"[-+]?[0-9]+")
_INT8 = re.compile(r"0o[0-7]+")
_INT16 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF_OR_NAN = re.compile(r"[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN")
MAX_SAFE_INTEGER = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER

_BAD_YAML = (
    "cannot be read as YAML (an unbalanced bracket or quote, or a character YAML reserves); "
    "quote the string"
)
_BLOCK = (
    'write a list as [a, b] and a mapping as {key: value}; quote a string that contains ": " '
    'or starts with "- "'
)


class SetOverrideError(ConfigError):
    """A refused override: `--set <item>: <why>`; `reason` names the rule (the TS names)."""

    def __init__(self, item: str, why: str, reason: str) -> None:
        # An item with a newline or another control character is shown quoted: one line.
        shown = json_text(item) if _CONTROL.search(item) else item
        super().__init__([f"--set {shown}: {why}"], "--set", reason=reason)


class _ValueProblem(Exception):
    """A refusal found while reading the value; the caller adds the item to the message."""

    def __init__(self, why: str, reason: str) -> None:
        super().__init__(why)
        self.why, self.reason = why, reason


def parse_override(item: str) -> tuple[list[str], Any]:
    """`key.path=value` split and read; raises SetOverrideError naming the item and problem."""
    key, sep, text = item.partition("=")
    if not sep:
        raise SetOverrideError(
            item, "expected key.path=value, e.g. train.lr=0.0005", "missing_equals"
        )
    path = key.split(".")
    for part in path:
        if part == "":
            raise SetOverrideError(item, "a key in the path is empty", "empty_key")
        if part in UNSAFE_KEYS:
            raise SetOverrideError(item, f'"{part}" cannot be a config key', "unsafe_key")
        if not _KEY.fullmatch(part):
            why = f"{json_text(part)} is not a config key (letters, digits, _, - and $ only)"
            raise SetOverrideError(item, why, "bad_key")
    try:
        return path, _parse_value(text)
    except _ValueProblem as e:
        raise SetOverrideError(item, e.why, e.reason) from None


def _parse_value(text: str) -> Any:
    import yaml  # type: ignore[import]  # no stubs on the Debian machines

    if _CONTROL.search(text):
        raise _ValueProblem(
            "the value must be one line of text without control characters", "control_character"
        )
    if _STREAM_SYNTAX.match(text):
        raise _ValueProblem(_BAD_YAML, "bad_yaml")
    try:
        events = [
            e
            for e in yaml.parse(text, Loader=yaml.SafeLoader)
            if not isinstance(
                e,
                (yaml.StreamStartEvent, yaml.StreamEndEvent)
                + (yaml.DocumentStartEvent, yaml.DocumentEndEvent),
            )
        ]
    except yaml.YAMLError:
        raise _ValueProblem(_BAD_YAML, "bad_yaml") from None
    if not events:
        return None  # empty, or only a comment
    stream = iter(events)
    value = _node(next(stream), stream)
    if next(stream, None) is not None:
        raise _ValueProblem(_BAD_YAML, "bad_yaml")
    return value


def _node(event: Any, stream: Iterator[Any]) -> Any:
    """The value of the node that starts with `event` (the rest read from `stream`)."""
    import yaml

    if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
        raise _ValueProblem(
            "YAML anchors and aliases (& and *) are not allowed; quote a string that starts "
            "with & or *",
            "alias",
        )
    if getattr(event, "tag", None):  # explicit only: PyYAML leaves implicit tags unset
        raise _ValueProblem(
            "YAML tags (!) are not allowed; quote a string that starts with !", "tag"
        )
    if isinstance(event, yaml.ScalarEvent):
        return _plain(event.value) if event.style is None else event.value
    if (
        isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
        and not event.flow_style
    ):
        raise _ValueProblem(_BLOCK, "block_collection")
    if isinstance(event, yaml.SequenceStartEvent):
        items: list[Any] = []
        for child in stream:
            if isinstance(child, yaml.SequenceEndEvent):
                return items
            items.append(_node(child, stream))
    if isinstance(event, yaml.MappingStartEvent):
        out: dict[str, Any] = {}
        for child in stream:
            if isinstance(child, yaml.MappingEndEvent):
                return out
            key = _node(child, stream)
            if not isinstance(key, str):
                raise _ValueProblem(
                    f"mapping keys must be strings, got {json_text(key)}", "bad_mapping_key"
                )
            if key in UNSAFE_KEYS:
                raise _ValueProblem(f'"{key}" cannot be a config key', "unsafe_key")
            if key in out:
                raise _ValueProblem(
                    f'the key "{key}" appears twice in one mapping', "duplicate_key"
                )
            out[key] = _node(next(stream), stream)
    raise _ValueProblem(_BAD_YAML, "bad_yaml")


def _plain(text: str) -> Any:
    """A plain (unquoted) scalar by the YAML 1.2 core schema; JSON-safe numbers only."""
    if _NULL.fullmatch(text):
        return None
    if _TRUE.fullmatch(text):
        return True
    if _FALSE.fullmatch(text):
        return False
    if _INF_OR_NAN.fullmatch(text):
        raise _ValueProblem(f"{text} is not a finite number", "not_finite")
    if _INT10.fullmatch(text) or _INT8.fullmatch(text) or _INT16.fullmatch(text):
        base = 8 if text.startswith("0o") else 16 if text.startswith("0x") else 10
        value = int(text[2:] if base != 10 else text, base)
        if abs(value) > MAX_SAFE_INTEGER:
            raise _ValueProblem(
                f"{text} is not an exact integer in JSON (beyond ±{MAX_SAFE_INTEGER})",
                "unsafe_integer",
            )
        return value
    if _FLOAT.fullmatch(text):
        number = float(text)
        if number in (float("inf"), float("-inf")):
            raise _ValueProblem(f"{text} is not a finite number", "not_finite")
        return number
    return text


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Set `a.b.c=value` in the raw (not yet validated) config dict, making missing sections."""
    path, value = parse_override(item)
    node = raw
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(path[: i + 1])
            raise SetOverrideError(item, f"{where} is not a section", "not_section")
        node = child
    node[path[-1]] = value
