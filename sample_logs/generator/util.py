"""Small deterministic helpers: named random streams, ids, time formatting."""

import datetime as _dt
import hashlib
import math
import random

from . import config as C

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def rng(name):
    """An independent random stream per concern, so editing one part of the
    generator does not reshuffle every other part."""
    digest = hashlib.sha256(f"{C.SEED}:{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def stable_int(text):
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def pick(r, pairs):
    """Weighted choice from [(value, weight), ...] (list order is the order used)."""
    total = sum(w for _, w in pairs)
    x = r.random() * total
    acc = 0.0
    for value, w in pairs:
        acc += w
        if x < acc:
            return value
    return pairs[-1][0]


def lognormal(r, median, sigma):
    return median * math.exp(r.gauss(0.0, sigma))


def geometric(r, mean, cap=12):
    """Number of turns >= 1 with the given mean."""
    p = 1.0 / mean
    n = 1
    while n < cap and r.random() > p:
        n += 1
    return n


def hexid(r, n):
    return "".join("0123456789abcdef"[r.getrandbits(4)] for _ in range(n))


def b62(r, n):
    return "".join(_B62[r.randrange(62)] for _ in range(n))


def uuid4(r):
    h = list(hexid(r, 32))
    h[12] = "4"
    h[16] = "89ab"[r.randrange(4)]
    h = "".join(h)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def iso_ms(ms):
    """Epoch milliseconds -> '2026-11-01T00:00:00.000Z'."""
    t = _EPOCH + _dt.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def iso_min(ms):
    t = _EPOCH + _dt.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%MZ")


def day_index(ms):
    return (ms - C.START_MS) // C.DAY_MS


def hour_of_day(ms):
    return (ms // C.HOUR_MS) % 24


def weekday(ms):
    """0 = Monday ... 6 = Sunday."""
    return (_EPOCH + _dt.timedelta(milliseconds=ms)).weekday()


def approx_tokens(text):
    """~4 characters per token for English text, as tokenizers roughly give."""
    return max(1, (len(text) + 3) // 4)


def percentile(values, q):
    """Nearest-rank-with-interpolation percentile (same as numpy's default)."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def fill(r, template, slots):
    """Fill {name} placeholders from slot lists, choosing each independently."""
    out = template
    for key, options in slots.items():
        token = "{" + key + "}"
        while token in out:
            out = out.replace(token, r.choice(options), 1)
    return out


class IdRegistry:
    """Hands out ids and guarantees they are unique across the whole data set."""

    def __init__(self):
        self.seen = set()

    def new(self, value):
        if value in self.seen:
            raise ValueError(f"duplicate id {value}")
        self.seen.add(value)
        return value
