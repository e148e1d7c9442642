from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

T = TypeVar("T")

# Values per IN (...) list: well under the 32,766 parameters SQLite (3.32+) and asyncpg accept per statement.
IN_LIST_CHUNK = 5_000


def in_chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """`values` in slices that each fit one IN (...) list."""
    for start in range(0, len(values), IN_LIST_CHUNK):
        yield values[start : start + IN_LIST_CHUNK]


def in_list(name: str) -> sa.BindParameter[Any]:
    """A parameter for `column.in_(...)` that takes its list at execute, so a statement built once serves every list."""
    return sa.bindparam(name, expanding=True)
