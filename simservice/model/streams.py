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
from functools import cache

import numpy as np

_BLOCK = 1024  # the most drawn at once
_FIRST_BLOCK = 16  # a stream's first draw: most streams (a post's sickness, say) need few numbers a run


@cache
def stream_key(name: str) -> int:
    """A stable 64-bit number for a stream's name (Python's hash() changes between runs); worked out once."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


class Stream:
    """Hands out one standard variate at a time from numpy blocks: fast and in a fixed order.

    Blocks double from 16 numbers to 1024, so the many streams that draw little hold little;
    numpy draws a block's numbers in turn, so the sequence is the same whatever the blocks.
    """

    __slots__ = ("_rng", "_draw", "_block", "_i", "_size")

    def __init__(self, rng: np.random.Generator, draw):
        self._rng = rng
        self._draw = draw
        self._block: list[float] = []
        self._i = 0
        self._size = _FIRST_BLOCK

    def next(self) -> float:
        i = self._i
        if i == len(self._block):
            size = self._size
            self._block = self._draw(self._rng, size).tolist()
            self._size = min(2 * size, _BLOCK)
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


# -- luck keyed by the referral ----------------------------------------------------------------------
#
# A referral's own chances (urgency, workload, minimum days, the front door's decision, the area,
# the outcome, whether and when the child comes back, how long a long-term team keeps them) are
# drawn when it is created, from a counter-based generator keyed by (seed, replication, referral
# key). The same referral therefore has the same luck in every scenario, whatever happened to
# other children before it. A re-referral's key comes from its parent's.

#: The uniform numbers every referral draws when it is created, in this order.
REFERRAL_FIELDS = (
    "urgency",
    "workload",
    "workload_angle",  # a normal workload needs two uniforms (Box-Muller)
    "visits",
    "front_door",
    "area",
    "outcome",
    "returns",
    "return_delay",
    "long_term_stay",
    "first_visit",
    "partner_information",
    # Hidden risk (model/defences.py); appended, so every draw above is unchanged.
    "risk",
)
#: The uniforms a risky referral draws besides (the layers of defence it meets, and what follows a missed risk),
#: numbered after ``REFERRAL_FIELDS``: made only for a risky child, whose need for them is rare.
CHECK_FIELDS = ("front_door_check", "waiting_check", "assessment_check", "oversight_check", "serious_incident")
_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's increment
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_UNIT = 2.0**-53


def _mix(x: int) -> int:
    """SplitMix64's finaliser: a bijection of 64-bit numbers that scatters neighbouring keys."""
    x = ((x ^ (x >> 30)) * _M1) & _MASK
    x = ((x ^ (x >> 27)) * _M2) & _MASK
    return x ^ (x >> 31)


def _mix_array(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * np.uint64(_M1)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(_M2)
    return x ^ (x >> np.uint64(31))


def referral_key(kind: str, number: int) -> int:
    """The key of the ``number``-th referral of a kind: ``new``, ``starting`` or ``closed_before_run``."""
    return _mix((stream_key(kind) + number) & _MASK)


def referral_keys(kind: str, count: int, first: int = 0) -> np.ndarray:
    """The keys of ``count`` referrals of a kind from number ``first``, as ``referral_key`` gives them."""
    numbers = np.arange(first, first + count, dtype=np.uint64) + np.uint64(stream_key(kind))
    return _mix_array(numbers)


def return_key(parent: int) -> int:
    """The key of a child's next referral, from the key of the one before it."""
    return _mix(parent ^ 0x5245464552524544)


class ReferralStreams:
    """Counter-based uniforms keyed by a referral: one row of ``REFERRAL_FIELDS`` per referral key."""

    def __init__(self, seed: int, replication: int):
        state = np.random.SeedSequence([seed, replication, stream_key("referrals")]).generate_state(1, np.uint64)
        self.key = int(state[0])

    def uniforms(self, keys: np.ndarray) -> np.ndarray:
        """Rows of uniforms on (0, 1) for many referrals at once (the same numbers ``row`` gives)."""
        base = _mix_array(np.asarray(keys, dtype=np.uint64) ^ np.uint64(self.key))
        steps = np.arange(1, len(REFERRAL_FIELDS) + 1, dtype=np.uint64) * np.uint64(_GAMMA)
        bits = _mix_array(base[:, None] + steps[None, :])
        return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * _UNIT

    def row(self, key: int, steps: tuple[int, ...] | None = None) -> list[float]:
        """The uniforms of one referral (SplitMix64 from the referral's base, written out for speed)."""
        base = _mix(key ^ self.key)
        draws = []
        for step in _STEPS if steps is None else steps:
            x = (base + step) & _MASK
            x = ((x ^ (x >> 30)) * _M1) & _MASK
            x = ((x ^ (x >> 27)) * _M2) & _MASK
            draws.append((((x ^ (x >> 31)) >> 11) + 0.5) * _UNIT)
        return draws

    def checks(self, key: int) -> list[float]:
        """A risky referral's uniforms of ``CHECK_FIELDS``, in order."""
        return self.row(key, _CHECK_STEPS)


_STEPS = tuple((step * _GAMMA) & _MASK for step in range(1, len(REFERRAL_FIELDS) + 1))
_CHECK_STEPS = tuple(
    (step * _GAMMA) & _MASK for step in range(len(REFERRAL_FIELDS) + 1, len(REFERRAL_FIELDS) + len(CHECK_FIELDS) + 1)
)
