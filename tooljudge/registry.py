"""One small registry type for every extension point (model families, judge protocols, preference-pair kinds,
dataset formats, built-in sources, synthetic categories).

Why one type: each extension point used to keep its own dict, its own tuple of names and its own unknown-name
error. A ``Registry`` keeps records in registration order (the order the built-ins are listed in help text and
iterated in), refuses a second record under a taken name unless asked to replace it, and answers an unknown
name with one error that names the kind of thing, suggests the closest known name and lists them all.

It lives at the bottom layer (``tooljudge``) so that any layer can hold a registry; its only project import is
the one did-you-mean rule of ``tooljudge.config``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from tooljudge.config import did_you_mean

T = TypeVar("T")


class UnknownNameError(ValueError):
    """A name no record is registered under; the message suggests the closest name and lists the known ones."""

    def __init__(self, what: str, name: object, known: list[str]):
        self.what, self.name, self.known = what, name, known
        super().__init__(f"unknown {what} {name!r}{did_you_mean(str(name), known)}; choose from {', '.join(known)}")


class Registry(Generic[T]):
    """Named records of one kind, in registration order.

    ``what`` names the kind in error messages ("family", "judge protocol", ...). Records are any objects; a
    record with a ``name`` attribute can be registered without repeating it (``register(record)``).
    """

    def __init__(self, what: str):
        self.what = what
        self._records: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, record: T, name: str | None = None, *, aliases: tuple[str, ...] = (),
                 replace: bool = False) -> T:
        """Add ``record`` under ``name`` (default ``record.name``) and ``aliases``; returns the record, so it can
        be used as a decorator on functions. A taken name is an error unless ``replace``."""
        key = name if name is not None else getattr(record, "name", None)
        if not isinstance(key, str) or not key:
            raise TypeError(f"{self.what}: a record needs a non-empty string name, got {key!r}")
        for k in (key, *aliases):
            if not replace and (k in self._records or k in self._aliases):
                raise ValueError(f"{self.what} {k!r} is already registered (pass replace=True to replace it)")
        self._records[key] = record
        for alias in aliases:
            self._aliases[alias] = key
        return record

    def unregister(self, name: str) -> T:
        """Remove a record and its aliases (tests that register a toy record clean up with this)."""
        record = self.get(name)
        key = self.canonical(name)
        del self._records[key]
        self._aliases = {a: k for a, k in self._aliases.items() if k != key}
        return record

    def canonical(self, name: str) -> str:
        """The registered name ``name`` stands for (itself, or the name an alias points to)."""
        if name in self._records:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise UnknownNameError(self.what, name, self.names())

    def get(self, name: str) -> T:
        """The record registered under ``name`` (or an alias of it); an unknown name raises
        :class:`UnknownNameError` naming the closest known name."""
        return self._records[self.canonical(name)]

    def check(self, names) -> list[str]:
        """``names`` as a list, or the error for the first one that is not registered."""
        names = list(names)
        for n in names:
            self.canonical(n)
        return names

    def names(self) -> list[str]:
        """Registered names (no aliases), in registration order."""
        return list(self._records)

    def aliases(self) -> dict[str, str]:
        """Alias -> registered name."""
        return dict(self._aliases)

    def items(self) -> list[tuple[str, T]]:
        return list(self._records.items())

    def __contains__(self, name: object) -> bool:
        return name in self._records or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(self._records)})"
