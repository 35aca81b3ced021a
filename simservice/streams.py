"""Named random streams, so that scenarios share their luck (common random numbers).

A stream's seed comes from the run's seed, the replication number and the stream's
*name*: replication k of every scenario draws the same referrals, workloads and
life events, and adding a new stream never reshuffles the existing ones.

>>> a = Streams(seed=1, replication=0)
>>> b = Streams(seed=1, replication=0)
>>> a.uniform("priority").next() == b.uniform("priority").next()
True
>>> Streams(1, 0).uniform("priority").next() == Streams(1, 1).uniform("priority").next()
False
"""

from __future__ import annotations

import hashlib

import numpy as np

_BLOCK = 1024


def stream_key(name: str) -> int:
    """A stable 64-bit number for a stream's name (Python's hash() changes between runs)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


class Stream:
    """Hands out one standard variate at a time from numpy blocks: fast and in a fixed order."""

    __slots__ = ("_rng", "_draw", "_block", "_i")

    def __init__(self, rng: np.random.Generator, draw):
        self._rng = rng
        self._draw = draw
        self._block: list[float] = []
        self._i = 0

    def next(self) -> float:
        i = self._i
        if i == len(self._block):
            self._block = self._draw(self._rng, _BLOCK).tolist()
            i = 0
        self._i = i + 1
        return self._block[i]


class Streams:
    """The random streams of one replication, created on first use by name."""

    def __init__(self, seed: int, replication: int):
        self.seed = seed
        self.replication = replication

    def generator(self, name: str) -> np.random.Generator:
        """A numpy generator for the named stream, for drawing whole arrays at once."""
        sequence = np.random.SeedSequence([self.seed, self.replication, stream_key(name)])
        return np.random.Generator(np.random.PCG64(sequence))

    def uniform(self, name: str) -> Stream:
        """Uniform numbers on [0, 1)."""
        return Stream(self.generator(name), lambda rng, n: rng.random(n))

    def normal(self, name: str) -> Stream:
        """Standard normal numbers."""
        return Stream(self.generator(name), lambda rng, n: rng.standard_normal(n))

    def exponential(self, name: str) -> Stream:
        """Exponential numbers with mean 1."""
        return Stream(self.generator(name), lambda rng, n: rng.standard_exponential(n))
