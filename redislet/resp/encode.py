"""Reply encoding for RESP2 and RESP3.

Handlers return encoded bytes. Type-dependent shapes (null, map, set, double, bool, push,
verbatim) go through the client's protocol object, `c.r`, which is RESP2 or RESP3.
"""
import math

OK = b"+OK\r\n"
PONG = b"+PONG\r\n"
QUEUED = b"+QUEUED\r\n"
ZERO = b":0\r\n"
ONE = b":1\r\n"
NEG_ONE = b":-1\r\n"
NEG_TWO = b":-2\r\n"
EMPTY_ARRAY = b"*0\r\n"
EMPTY_BULK = b"$0\r\n\r\n"

_SMALL_INTS = [b":%d\r\n" % i for i in range(-1, 10001)]


def integer(n):
    if -1 <= n <= 10000:
        return _SMALL_INTS[n + 1]
    return b":%d\r\n" % n


BULK_HEADS = [b"$%d\r\n" % n for n in range(1024)]


def bulk(b):
    n = len(b)
    if n < 1024:    # a join of three beats %-formatting by a fifth
        return b"".join((BULK_HEADS[n], b, b"\r\n"))
    return b"$%d\r\n%s\r\n" % (n, b)


def status(s):
    return b"+" + s + b"\r\n"


def error(msg):
    """An error reply from a str such as 'ERR syntax error' (newlines become spaces)."""
    if "\n" in msg or "\r" in msg:
        msg = msg.replace("\r", " ").replace("\n", " ")
    return b"-" + msg.encode("utf-8", "surrogateescape") + b"\r\n"


_BULK_HEAD = [b"$%d" % n for n in range(1024)]
_bulk_head = _BULK_HEAD.__getitem__


def bulks(head, items):
    """head (an array, set or map header) followed by the bulk strings of items (a
    sized iterable of bytes). From eight on, the length headers come from a table and
    are interleaved with the items by slice assignment, all at C speed: half the time
    of formatting each for a hundred items, and the same for eight."""
    n = len(items)
    if n >= 8:
        parts = [None] * (2 * n)
        try:
            parts[0::2] = map(_bulk_head, map(len, items))
        except IndexError:
            pass        # an item of 1 KB or more: copying it costs more than its header
        else:
            parts[1::2] = items
            parts[0] = head + parts[0]
            return b"\r\n".join(parts) + b"\r\n"
    parts = [head]
    for x in items:
        k = len(x)
        if k < 1024:    # (a join of table headers beats %-formatting by half)
            parts.append(BULK_HEADS[k])
            parts.append(x)
            parts.append(b"\r\n")
        else:
            parts.append(b"$%d\r\n%s\r\n" % (k, x))
    return b"".join(parts)


ARRAY_HEADS = [b"*%d\r\n" % n for n in range(1024)]


def array(items):
    """An array of bulk strings (bytes); TypeError if an item is not bytes-like."""
    n = len(items)
    return bulks(ARRAY_HEADS[n] if n < 1024 else b"*%d\r\n" % n, items)


def array_raw(encoded):
    """An array of already-encoded replies."""
    return b"*%d\r\n" % len(encoded) + b"".join(encoded)


class Resp2:
    version = 2
    null = b"$-1\r\n"
    null_array = b"*-1\r\n"
    true = b":1\r\n"
    false = b":0\r\n"

    @staticmethod
    def bulk_or_null(v):
        return b"$-1\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v)

    @staticmethod
    def map_header(n):
        return b"*%d\r\n" % (2 * n)

    @staticmethod
    def set_header(n):
        return b"*%d\r\n" % n

    @staticmethod
    def push_header(n):
        return b"*%d\r\n" % n

    @staticmethod
    def attribute_header(n):
        return b""

    @staticmethod
    def double(d):
        if math.isinf(d):
            s = b"inf" if d > 0 else b"-inf"
        else:
            s = b"%.17g" % d
        return b"$%d\r\n%s\r\n" % (len(s), s)

    @staticmethod
    def human_double(s):
        """A number already formatted by Redis's human long-double rules (bytes)."""
        return b"$%d\r\n%s\r\n" % (len(s), s)

    @staticmethod
    def verbatim(text, fmt=b"txt"):
        return b"$%d\r\n%s\r\n" % (len(text), text)

    @staticmethod
    def bignum(s):
        return b"$%d\r\n%s\r\n" % (len(s), s)

    @staticmethod
    def map(pairs):
        """pairs: list of (encoded key, encoded value)."""
        out = [b"*%d\r\n" % (2 * len(pairs))]
        for k, v in pairs:
            out.append(k)
            out.append(v)
        return b"".join(out)

    @staticmethod
    def set_of_bulks(items):
        return array(items)


class Resp3(Resp2):
    version = 3
    null = b"_\r\n"
    null_array = b"_\r\n"
    true = b"#t\r\n"
    false = b"#f\r\n"

    @staticmethod
    def bulk_or_null(v):
        return b"_\r\n" if v is None else b"$%d\r\n%s\r\n" % (len(v), v)

    @staticmethod
    def map_header(n):
        return b"%%%d\r\n" % n

    @staticmethod
    def set_header(n):
        return b"~%d\r\n" % n

    @staticmethod
    def push_header(n):
        return b">%d\r\n" % n

    @staticmethod
    def attribute_header(n):
        return b"|%d\r\n" % n

    @staticmethod
    def double(d):
        if math.isinf(d):
            return b",inf\r\n" if d > 0 else b",-inf\r\n"
        return b",%.17g\r\n" % d

    @staticmethod
    def human_double(s):
        return b"," + s + b"\r\n"

    @staticmethod
    def verbatim(text, fmt=b"txt"):
        return b"=%d\r\n%s:%s\r\n" % (len(text) + 4, fmt, text)

    @staticmethod
    def bignum(s):
        return b"(" + s + b"\r\n"

    @staticmethod
    def map(pairs):
        out = [b"%%%d\r\n" % len(pairs)]
        for k, v in pairs:
            out.append(k)
            out.append(v)
        return b"".join(out)

    @staticmethod
    def set_of_bulks(items):
        return bulks(b"~%d\r\n" % len(items), items)


RESP2 = Resp2()
RESP3 = Resp3()
