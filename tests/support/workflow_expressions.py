"""GitHub Actions expressions, evaluated as the runner does, for the subset our workflows use.

- ``evaluate(text, contexts)``: the value of one expression, with or without ``${{ }}``.
- ``interpolate(text, contexts)``: a string with every ``${{ expr }}`` replaced by its value
  as a string (``env:``, ``run:``, ``concurrency.group`` values).
- ``condition(text, contexts, status)``: an ``if:``; without a status function in it,
  ``success() &&`` is implied, as GitHub does.

Supported: literals (``null``, ``true``, ``false``, numbers, ``'strings'`` with ``''`` for a
quote), context lookups (``github.ref``, ``vars.X``, ``secrets.X``, ``env.X``...,
case-insensitive, a missing property is ``null``), ``!``, ``==``, ``!=``, ``&&``, ``||``
(which return an operand, so ``vars.X || 'default'`` is the default when X is unset), parentheses,
the status functions ``always()``, ``success()``, ``failure()``, ``cancelled()`` and
``format()``. Anything else raises SyntaxError (or NameError, for an unknown context or
function), so a workflow that grows new syntax fails its tests instead of being misread.

Semantics (docs.github.com, "Evaluate expressions in workflows and actions"): ``==`` compares
strings ignoring case and values of different types as numbers (null 0, booleans 0/1,
strings parsed, '' 0, unparsable NaN); falsy are ``false``, ``0``, ``''``, ``null``, NaN.
A context that is an ``EmptyWhenUnset`` (vars, secrets) reads a missing name as ``''``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

STATUS_FUNCTIONS = ("always", "success", "failure", "cancelled")
STATUSES = ("success", "failure", "cancelled")

_TOKEN = re.compile(
    r"\s*(?:(?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*)"
    r"|(?P<op>==|!=|&&|\|\||[!().,]))"
)
_TEMPLATE = re.compile(r"\$\{\{((?:(?!\}\}).)*)\}\}", re.DOTALL)


class EmptyWhenUnset(dict):
    """A context whose missing names read as '' (GitHub's rule for vars and secrets)."""


def evaluate(text: str, contexts: Mapping[str, Any], status: str = "success") -> Any:
    """The value of one expression; ``${{ }}`` around it is optional."""
    return _Parser(_strip(text), contexts, status).parse()[0]


def condition(text: Any, contexts: Mapping[str, Any], status: str = "success") -> bool:
    """Whether an ``if:`` holds, given the job's (or the needed jobs') status so far."""
    if isinstance(text, bool):
        text = "true" if text else "false"
    text = str(text).strip()
    if "${{" in text and not _TEMPLATE.fullmatch(text):
        return truthy(interpolate(text, contexts, status))  # text around `${{ }}`: a string
    value, uses_status = _Parser(_strip(text), contexts, status).parse()
    return truthy(value) and (uses_status or status == "success")


def interpolate(text: str, contexts: Mapping[str, Any], status: str = "success") -> str:
    """TEXT with each ``${{ expr }}`` replaced by the string of its value."""
    return _TEMPLATE.sub(lambda m: to_string(evaluate(m.group(1), contexts, status)), text)


def truthy(value: Any) -> bool:
    """GitHub's truthiness: false, 0, '', null and NaN are false."""
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "")


def to_string(value: Any) -> str:
    """A value as ``${{ }}`` writes it into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def equal(left: Any, right: Any) -> bool:
    """Loose equality: strings ignoring case; values of other types as numbers."""
    if type(left) is type(right) or (_is_number(left) and _is_number(right)):
        if isinstance(left, str):
            return left.casefold() == right.casefold()
        if isinstance(left, dict | list):
            return left is right
        return left == right
    if isinstance(left, dict | list) or isinstance(right, dict | list):
        return False
    return _number(left) == _number(right)  # NaN equals nothing


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    text = value.strip()
    if not text:
        return 0.0
    try:
        return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
    except ValueError:
        return math.nan


def _strip(text: str) -> str:
    text = text.strip()
    match = _TEMPLATE.fullmatch(text)
    return match.group(1) if match else text


def _lookup(value: Any, name: str) -> Any:
    if not isinstance(value, Mapping):
        return None
    for key in value:
        if key.lower() == name.lower():
            return value[key]
    return "" if isinstance(value, EmptyWhenUnset) else None


def _format(template: Any, *args: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) in ("{{", "}}"):
            return match.group(0)[0]
        return to_string(args[int(match.group(1))])

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", replace, to_string(template))


class _Parser:
    """Recursive descent, evaluating as it goes (the expressions have no side effects)."""

    def __init__(self, text: str, contexts: Mapping[str, Any], status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        self.text, self.contexts, self.status = text, contexts, status
        self.tokens = self._tokenize(text)
        self.position = 0
        self.uses_status = False
        self.functions: dict[str, Callable[..., Any]] = {
            "always": lambda: True,
            "success": lambda: status == "success",
            "failure": lambda: status == "failure",
            "cancelled": lambda: status == "cancelled",
            "format": _format,
        }

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens, position = [], 0
        while text[position:].strip():
            match = _TOKEN.match(text, position)
            if not match:
                raise SyntaxError(f"unsupported expression syntax at {text[position:]!r}")
            kind = match.lastgroup
            assert kind is not None
            tokens.append((kind, match.group(kind)))
            position = match.end()
        return tokens

    def parse(self) -> tuple[Any, bool]:
        value = self._or()
        if self.position != len(self.tokens):
            raise SyntaxError(f"unexpected {self._peek()[1]!r} in {self.text!r}")
        return value, self.uses_status

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.position] if self.position < len(self.tokens) else ("end", "")

    def _take(self, *ops: str) -> str | None:
        kind, value = self._peek()
        if kind == "op" and value in ops:
            self.position += 1
            return value
        return None

    def _expect(self, op: str) -> None:
        if self._take(op) is None:
            raise SyntaxError(f"expected {op!r} in {self.text!r}")

    def _or(self) -> Any:
        return self._chain(
            ("||",), self._and, lambda left, right, _: left if truthy(left) else right
        )

    def _and(self) -> Any:
        return self._chain(
            ("&&",), self._equality, lambda left, right, _: right if truthy(left) else left
        )

    def _equality(self) -> Any:
        return self._chain(
            ("==", "!="), self._unary, lambda left, right, op: equal(left, right) == (op == "==")
        )

    def _chain(
        self,
        ops: tuple[str, ...],
        operand: Callable[[], Any],
        combine: Callable[[Any, Any, str], Any],
    ) -> Any:
        """OPERAND (OP OPERAND)*, combined left to right."""
        value = operand()
        while op := self._take(*ops):
            value = combine(value, operand(), op)
        return value

    def _unary(self) -> Any:
        if self._take("!"):
            return not truthy(self._unary())
        return self._primary()

    def _primary(self) -> Any:
        kind, token = self._peek()
        self.position += 1
        if kind == "number":
            number = float(int(token, 16)) if "x" in token.lower() else float(token)
            return int(number) if number.is_integer() and "." not in token else number
        if kind == "string":
            return token[1:-1].replace("''", "'")
        if kind == "op" and token == "(":
            value = self._or()
            self._expect(")")
            return value
        if kind != "name":
            raise SyntaxError(f"unexpected {token or 'end'!r} in {self.text!r}")
        if token in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token]
        if self._take("("):
            return self._call(token)
        names = [name for name in self.contexts if name.lower() == token.lower()]
        if not names:
            raise NameError(f"unknown context {token!r} in {self.text!r}")
        value = self.contexts[names[0]]
        while self._take("."):
            kind, name = self._peek()
            if kind != "name":
                raise SyntaxError(f"expected a property name in {self.text!r}")
            self.position += 1
            value = _lookup(value, name)
        return value

    def _call(self, name: str) -> Any:
        if name not in self.functions:
            raise NameError(f"unsupported function {name}() in {self.text!r}")
        args = []
        if not self._take(")"):
            args.append(self._or())
            while self._take(","):
                args.append(self._or())
            self._expect(")")
        self.uses_status |= name in STATUS_FUNCTIONS
        return self.functions[name](*args)
