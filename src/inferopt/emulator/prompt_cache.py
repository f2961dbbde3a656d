"""Provider prompt caching, emulated in memory with TTLs, as each provider reports it.

**OpenAI** (automatic): a prompt of at least 1024 tokens is cached; a later prompt that shares
a prefix with it reads the longest shared prefix in steps of 128 tokens after the first 1024
(1024, 1152, 1280, ...), reported as ``usage.prompt_tokens_details.cached_tokens`` (which
``prompt_tokens`` still includes). An unused prefix expires after ``ttl_s``.

**Anthropic** (explicit): only prefixes that end at a block carrying ``cache_control``
(tools, then system, then messages) are cached, and only when the prefix is at least the
model's minimum. For each breakpoint the latest cached block end within the 20 blocks before
it is a hit (``cache_read_input_tokens``); the tokens from the hit to each later breakpoint are
written (``cache_creation_input_tokens``, split by TTL into ``ephemeral_5m``/``ephemeral_1h``).
A hit refreshes its entry's TTL, as "5 minutes from last use" says.

Entries are keyed by a running hash over the prompt's token bytes, salted with the tenant (a
digest of the API key) and the model: tenants never share entries, as organisations do not.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from inferopt.emulator.token_runs import TokenRun

OPENAI_STEP_TOKENS = 128
ANTHROPIC_LOOKBACK_BLOCKS = 20
ANTHROPIC_TTL_S = {"5m": 300.0, "1h": 3600.0}
DEFAULT_MAX_ENTRIES = 200_000


def prefix_digests(runs: Sequence[TokenRun], cuts: Sequence[int], salt: bytes) -> list[bytes]:
    """The identity of the prompt's prefix at each token position in ``cuts`` (ascending).

    One pass with a running hash (``copy()`` at each cut), so a 100k-token prompt with hundreds
    of cuts costs one hash of the prompt, not hundreds.
    """
    hasher = hashlib.blake2b(salt, digest_size=16)
    out: list[bytes] = []
    run_start = 0  # position of the current run's first token in the prompt
    next_cut = 0
    for run in runs:
        length = len(run)
        fed = 0  # tokens of this run already hashed
        while next_cut < len(cuts) and cuts[next_cut] <= run_start + length:
            upto = cuts[next_cut] - run_start
            if upto > fed:
                hasher.update(run.token_bytes(fed, upto))
                fed = upto
            out.append(hasher.copy().digest())
            next_cut += 1
        if next_cut == len(cuts):
            break
        if fed < length:
            hasher.update(run.token_bytes(fed, length))
        run_start += length
    return out


class ExpiringEntries:
    """Prefix identities with an expiry time; least recently used first, capped in size."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._entries: OrderedDict[bytes, tuple[float, float]] = OrderedDict()  # key -> (expires, ttl)
        self._max = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def hit(self, key: bytes, now: float) -> bool:
        """True if ``key`` is cached and unexpired; a hit restarts the entry's TTL."""
        entry = self._entries.get(key)
        if entry is None:
            return False
        expires, ttl = entry
        if expires <= now:
            del self._entries[key]
            return False
        self._entries[key] = (now + ttl, ttl)
        self._entries.move_to_end(key)
        return True

    def put(self, key: bytes, now: float, ttl: float) -> None:
        self._entries[key] = (now + ttl, ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


class OpenAIPromptCache:
    """OpenAI's automatic prefix cache."""

    def __init__(self, clock: Callable[[], float], ttl_s: float, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._clock = clock
        self._ttl = ttl_s
        self._entries = ExpiringEntries(max_entries)

    def cached_tokens(self, salt: bytes, runs: Sequence[TokenRun], min_tokens: int | None) -> int:
        """Tokens of this prompt read from the cache; the prompt's prefixes are cached after it."""
        total = sum(len(r) for r in runs)
        if min_tokens is None or total < min_tokens:
            return 0
        cuts = range(min_tokens, total + 1, OPENAI_STEP_TOKENS)
        digests = prefix_digests(runs, cuts, salt)
        now = self._clock()
        cached = 0
        for cut, digest in zip(cuts, digests, strict=True):
            # Prefixes are written together, so the first miss ends the shared prefix.
            if not self._entries.hit(digest, now):
                break
            cached = cut
        for digest in digests:
            self._entries.put(digest, now, self._ttl)
        return cached


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """A block carrying ``cache_control``: its index among the prompt's blocks and its TTL label."""

    block: int
    ttl: str = "5m"


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """Anthropic's cache accounting of one request (tokens)."""

    read: int = 0
    write_5m: int = 0
    write_1h: int = 0

    @property
    def written(self) -> int:
        return self.write_5m + self.write_1h


class AnthropicPromptCache:
    """Anthropic's breakpoint cache."""

    def __init__(self, clock: Callable[[], float], max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._clock = clock
        self._entries = ExpiringEntries(max_entries)

    def usage(
        self,
        salt: bytes,
        runs: Sequence[TokenRun],
        block_ends: Sequence[int],
        breakpoints: Sequence[Breakpoint],
        min_tokens: int | None,
    ) -> CacheUsage:
        """Read and write the cache for one request; ``block_ends[i]`` is where block i ends."""
        if min_tokens is None or not breakpoints:
            return CacheUsage()
        digests = prefix_digests(runs, block_ends, salt)
        now = self._clock()
        read_to = 0
        for bp in breakpoints:
            for j in range(bp.block, max(-1, bp.block - ANTHROPIC_LOOKBACK_BLOCKS), -1):
                if block_ends[j] <= read_to:
                    break
                if self._entries.hit(digests[j], now):
                    read_to = block_ends[j]
                    break
        written_to = read_to
        write = {"5m": 0, "1h": 0}
        for bp in breakpoints:
            end = block_ends[bp.block]
            if end <= written_to or end < min_tokens:
                continue  # already cached, or too short for this model: processed uncached
            self._entries.put(digests[bp.block], now, ANTHROPIC_TTL_S[bp.ttl])
            write[bp.ttl] += end - written_to
            written_to = end
        return CacheUsage(read_to, write["5m"], write["1h"])
