"""Random streams of the demo generator.

Two kinds of randomness keep the generator deterministic for a seed:

* ``stream_rng(seed, stream)``: a numpy ``Generator(PCG64)`` per named stream, for draws made
  once per patient or per episode (whole arrays at a time);
* ``hash_uniform(seed, stream, a, b)``: a counter-based uniform for draws made once per row of a
  big table (a visit day, a screen). The value depends only on the seed, the stream and the row's
  keys (episode number, day), so generating dosing visits in chunks of patients gives exactly
  the rows of a single pass, whatever the chunk size.
"""

from __future__ import annotations

import numpy as np

_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)

# Stream numbers: one per kind of draw, never reused for another purpose.
PATIENTS = 1
EPISODES = 2  # 2 + round number * 16 (see cohort)
ASSESSMENTS = 3
SCREENS = 4
VISIT_MISSED = 5
VISIT_TIME = 6
VISIT_SESSION = 7
RECORDS = 8
FAMILY_EDUCATION = 9


def stream_rng(seed: int, stream: int) -> np.random.Generator:
    """A PCG64 generator for one stream of one seed."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(stream)])))


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic, no warnings)."""
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def hash_uniform(seed: int, stream: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Uniform(0, 1) floats that depend only on (seed, stream, a, b), element-wise.

    Parameters
    ----------
    seed, stream : int
        The generator seed and the stream number.
    a, b : numpy.ndarray
        Non-negative integer keys of the same shape (e.g. global episode number and day).
    """
    salt = np.full(1, ((int(seed) * 1_000_003 + int(stream)) * 0x9E3779B9) & _MASK64, np.uint64)
    salt = _splitmix(salt)
    key = np.asarray(a, dtype=np.uint64) * _GOLDEN
    key = _splitmix(key ^ salt)
    key = _splitmix(key + np.asarray(b, dtype=np.uint64))
    return (key >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
