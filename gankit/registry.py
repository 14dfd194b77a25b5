"""Name -> object registries with close-match hints.

Each family (generators, discriminators, losses, datasets, recipes ...) has one
:class:`Registry`. Registering is one decorator line next to the object; looking up an unknown
name raises a one-line :class:`~gankit.errors.ConfigError` suggesting the closest key.
"""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from gankit.errors import ConfigError

T = TypeVar("T")


def did_you_mean(name: str, choices: list[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Registry(Generic[T]):
    """A named mapping from string keys to objects (classes or functions)."""

    def __init__(self, name: str):
        self.name = name
        self._items: dict[str, T] = {}

    def register(self, key: str) -> Callable[[T], T]:
        """Decorator: ``@REG.register("dcgan")`` stores the object under ``key``."""

        def deco(obj: T) -> T:
            if key in self._items:
                raise ValueError(f"{self.name} '{key}' is registered twice")
            self._items[key] = obj
            return obj

        return deco

    def get(self, key: str) -> T:
        try:
            return self._items[key]
        except KeyError:
            raise ConfigError(
                f"unknown {self.name} '{key}'{did_you_mean(key, self.keys())}; "
                f"choose one of: {', '.join(self.keys())}"
            ) from None

    def keys(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._items)
