"""Key tables: one place that knows each key's name, aliases and converter.

Unknown keys fail with a did-you-mean suggestion.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from wq.errors import ParseError

Converter = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    convert: Converter
    aliases: tuple[str, ...] = ()
    help: str = ""


class FieldTable:
    def __init__(self, fields: Iterable[Field]) -> None:
        self.fields = tuple(fields)
        self._by_key: dict[str, Field] = {}
        for f in self.fields:
            for key in (f.name, *f.aliases):
                self._by_key[key.lower()] = f

    def lookup(self, key: str, *, source: str = "", line: int | None = None,
               where: str = "") -> Field:
        found = self._by_key.get(key.lower())
        if found is not None:
            return found
        close = difflib.get_close_matches(key.lower(), list(self._by_key), n=1, cutoff=0.6)
        hint = f"; did you mean '{self._by_key[close[0]].name}'?" if close else ""
        known = ", ".join(f.name for f in self.fields)
        label = f"{where}.{key}" if where else key
        raise ParseError(f"unknown key{hint} (known keys: {known})", source=source,
                         line=line, key=label)

    def convert(self, key: str, value: Any, *, source: str = "", line: int | None = None,
                where: str = "") -> tuple[str, Any]:
        """Resolve the key and convert its value: (canonical name, value)."""
        f = self.lookup(key, source=source, line=line, where=where)
        label = f"{where}.{key}" if where else key
        try:
            return f.name, f.convert(value)
        except (TypeError, ValueError) as exc:
            raise ParseError(str(exc), source=source, line=line, key=label) from None
