"""One durable identity per row of a batch job, so reruns never pay for an answer twice.

A row is known by two digests, never by its line number:

- its **key**: the digest of the row itself (the JSON object, key order and spacing ignored; the
  text of a line that is not JSON), with ``#2``, ``#3``... for the second and later copies of an
  identical line. Inserting, removing or reordering lines leaves every other row's key as it was.
- its **request key**: the digest of everything its answer depends on, the request as it is sent
  (model, every message after the template and system prompt are applied, and the parameters:
  temperature, max_tokens, seed, tools, response format...), as the answer cache sees it.

The journal and the output file record both with every outcome. On a rerun a row whose key has
an answer recorded under the same request key is answered (never sent again); under another
request key, the job changed what the row asks, and the run stops before sending anything.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections import Counter
from typing import Any

from inferopt.cache.keys import canonical_json, request_identity
from inferopt.types import ChatRequest

DIGEST_CHARS = 32  # 128 bits: no collision among any job's rows


def _digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:DIGEST_CHARS]


def request_key(request: ChatRequest) -> str:
    """The digest of what ``request``'s answer depends on (inferopt's own options left out)."""
    return _digest(canonical_json(request_identity(request)))


class RowKeys:
    """Keys for the rows of one pass over an input, in order (copies of a line are numbered).

    Memory stays small on huge inputs: a row seen once costs one 64-bit prefix of its digest in a
    flat table (:class:`PrefixSet`, 8 to 16 bytes a row); only repeated lines are counted by their
    full digest. (Two different rows sharing a prefix would number the second ``#2``: still a
    unique, stable key.)
    """

    def __init__(self) -> None:
        self._seen = PrefixSet()
        self._copies: Counter[str] = Counter()

    def key(self, data: Any) -> str:
        """The key of a parsed row (``data``) or of a line that is not JSON (a ``str``)."""
        payload = canonical_json(data) if not isinstance(data, str) else ("text:" + data).encode()
        digest = _digest(payload)
        if self._seen.add(int(digest[:16], 16)):
            return digest
        self._copies[digest] += 1
        return f"{digest}#{self._copies[digest] + 1}"


class PrefixSet:
    """A set of 64-bit integers in one ``array('Q')`` (open addressing, at most half full).

    A Python ``set`` of a million ints costs about 70 MB; this costs 16 MB.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._table = array("Q", bytes(8 * capacity))
        self._mask = capacity - 1
        self._size = 0

    def add(self, value: int) -> bool:
        """Add ``value``; False when it was there already."""
        value |= 1  # 0 marks an empty slot
        table, mask = self._table, self._mask
        slot = (value ^ (value >> 29)) & mask
        while (held := table[slot]) != 0:
            if held == value:
                return False
            slot = (slot + 1) & mask
        table[slot] = value
        self._size += 1
        if 2 * self._size > len(table):
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._table
        self._table = array("Q", bytes(16 * len(old)))
        self._mask = len(self._table) - 1
        self._size = 0
        for value in old:
            if value:
                self.add(value)

    def __len__(self) -> int:
        return self._size


def line_data(text: str) -> Any:
    """A line's JSON value, or the line itself when it is not JSON (its key is then its text)."""
    try:
        return json.loads(text)
    except ValueError:
        return text
