"""What a planned run remembers of each row between reading the input and sending it: 14 bytes a row.

A million-row job cannot hold a million ``Row`` objects (a request each). ``batch run --plan``
reads its input once to plan (``scan.py``) and again to send; in between it keeps, by input index,
only each row's state (one byte: :data:`PENDING`, :data:`CACHE`, :data:`COPY`, :data:`RESUMED`),
whether later rows repeat it (one byte), and its predicted tokens (three 32-bit counts), in flat
arrays. What a row is, its request, is read again from the input when it is sent.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

from inferopt.parallel.planner.predict import RowEstimate
from inferopt.types import Usage

ABSENT = 0  # not a row of this run (answered earlier, or an invalid line)
PENDING = 1  # to be planned: flex, realtime or the Batch API
CACHE = 2  # the --cache answers it
COPY = 3  # repeats an earlier row's request: answered by that row's answer
RESUMED = 4  # held by a Batch API job an earlier run submitted

_TOKEN_MAX = 0xFFFFFFFF


class RowTable:
    def __init__(self) -> None:
        self.states = bytearray()
        self._repeated = bytearray()  # 1: a later row repeats this one
        self._input = array("I")
        self._output = array("I")
        self._cached = array("I")

    def add(self, estimate: RowEstimate, state: int) -> None:
        index = estimate.index
        if index >= len(self.states):
            more = index + 1 - len(self.states)
            self.states.extend(bytes(more))
            self._repeated.extend(bytes(more))
            for column in (self._input, self._output, self._cached):
                column.frombytes(bytes(column.itemsize * more))  # zeroes
        self.states[index] = state
        self._input[index] = min(estimate.input_tokens, _TOKEN_MAX)
        self._output[index] = min(estimate.output_tokens, _TOKEN_MAX)
        self._cached[index] = min(estimate.cache_read_tokens, _TOKEN_MAX)

    def state(self, index: int) -> int:
        return self.states[index] if 0 <= index < len(self.states) else ABSENT

    def mark_repeated(self, index: int) -> None:
        self._repeated[index] = 1

    def repeated(self, index: int) -> bool:
        return 0 <= index < len(self._repeated) and self._repeated[index] == 1

    def estimate(self, index: int) -> RowEstimate | None:
        if self.state(index) == ABSENT:
            return None
        return RowEstimate(index, self._input[index], self._output[index], self._cached[index])

    def count(self, *states: int) -> int:
        return sum(self.states.count(state) for state in states)

    def indexes(self, state: int) -> Iterator[int]:
        """The indexes of the rows in ``state``, in input order."""
        start = 0
        marker = bytes([state])
        while (index := self.states.find(marker, start)) >= 0:
            yield index
            start = index + 1

    def usage(self, state: int, first: int | None = None) -> tuple[Usage, Usage]:
        """The predicted usage of the first ``first`` rows in ``state`` (in input order), and of the rest."""
        sums = [[0, 0, 0], [0, 0, 0]]
        for taken, index in enumerate(self.indexes(state)):
            part = sums[first is not None and taken >= first]
            part[0] += self._input[index]
            part[1] += self._output[index]
            part[2] += self._cached[index]
        return Usage(*sums[0]), Usage(*sums[1])
