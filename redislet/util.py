"""Number parsing/formatting and argument splitting with Redis's exact rules."""
import math

from .errors import CommandError, NOT_INTEGER

LLONG_MIN = -(1 << 63)
LLONG_MAX = (1 << 63) - 1
_DIGITS = frozenset(b"0123456789")


# the decimal bytes of 0..9999 (the integers Redis shares), and the small canonical
# integers (counts, indexes, numkeys, counters) by their bytes: one dict lookup
DECIMAL = [b"%d" % i for i in range(10000)]
SMALL_LL = {**{b"%d" % i: i for i in range(-16, 0)},
            **{b: i for i, b in enumerate(DECIMAL)}}.get


def parse_ll(b):
    """Redis's string2ll: a strict decimal signed 64-bit integer, or None.

    No spaces, no '+', no leading zeros, no '-0'."""
    try:
        v = SMALL_LL(b)
        if v is not None:
            return v
    except TypeError:        # a bytearray or memoryview (unhashable): parsed below
        pass
    n = len(b)
    if n == 0 or n > 20:
        return None
    if b.isdigit():
        if b[0] == 48 and n > 1:
            return None
        v = int(b)
    elif b[0] == 45 and n > 1 and b[1:].isdigit() and b[1] != 48:
        v = int(b)
    else:
        return None
    if LLONG_MIN <= v <= LLONG_MAX:
        return v
    return None


def atoll(b):
    """C atoll / strtol prefix parsing: optional whitespace and sign, then digits."""
    s = b.lstrip(b" \t\n\v\f\r")
    i = 1 if s[:1] in (b"+", b"-") else 0
    j = i
    n = len(s)
    while j < n and 48 <= s[j] <= 57:
        j += 1
    if j == i:
        return 0
    return int(s[:j])


def ll_arg(b, msg=NOT_INTEGER):
    """getLongLongFromObjectOrReply: an integer argument, or CommandError(msg)."""
    v = parse_ll(b)
    if v is None:
        raise CommandError(msg)
    return v


def format_double(d):
    """%.17g as Redis 7.0 formats doubles (ZSCORE, INCRBYFLOAT in RESP2 uses ld2string)."""
    if math.isinf(d):
        return b"inf" if d > 0 else b"-inf"
    return (b"%.17g" % d)


def parse_double(b):
    """Redis's string2d (strtod, whole string, no leading space, NaN rejected) -> float or None."""
    if not b or b[0] in b" \t\n\r\v\f":
        return None
    try:
        s = b.decode("ascii")
        v = float(s)
    except (UnicodeDecodeError, ValueError):
        return None
    if math.isnan(v) or "_" in s:
        return None
    if s[-1:].isspace():
        return None
    return v


_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("a"): b"\a"}
_HEX = b"0123456789abcdefABCDEF"


def split_args(line):
    """Redis's sdssplitargs: split a line into arguments, honouring "..." and '...' quoting.

    Returns a list of bytes, or None on unbalanced quotes (or a closing quote not followed
    by a space)."""
    nul = line.find(b"\x00")       # a C string: parsing stops at a NUL byte
    if nul >= 0:
        line = line[:nul]
    args = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in b" \n\r\t\v\f":
            i += 1
        if i >= n:
            return args
        inq = insq = False
        cur = bytearray()
        while True:
            if inq:
                if i >= n:
                    return None
                ch = line[i]
                if (ch == 92 and i + 3 < n and line[i + 1] == 120
                        and line[i + 2] in _HEX and line[i + 3] in _HEX):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif ch == 92 and i + 1 < n:
                    i += 1
                    cur += _ESCAPES.get(line[i], bytes((line[i],)))
                elif ch == 34:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f":
                        return None
                    i += 1
                    break
                else:
                    cur.append(ch)
            elif insq:
                if i >= n:
                    return None
                ch = line[i]
                if ch == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif ch == 39:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f":
                        return None
                    i += 1
                    break
                else:
                    cur.append(ch)
            else:
                if i >= n:
                    break
                ch = line[i]
                if ch in b" \n\r\t":     # (not \v or \f: those stay in the token)
                    i += 1
                    break
                if ch == 34:
                    inq = True
                elif ch == 39:
                    insq = True
                else:
                    cur.append(ch)
            i += 1
        args.append(bytes(cur))


_REPR_ESCAPES = {92: b"\\\\", 34: b'\\"', 10: b"\\n", 13: b"\\r", 9: b"\\t", 7: b"\\a",
                 8: b"\\b"}


def repr_bytes(b):
    """Redis's sdscatrepr: b double-quoted, with escapes; the result is pure ASCII
    (CONFIG REWRITE, AOF manifest names, MONITOR lines)."""
    out = bytearray(b'"')
    for c in b:
        esc = _REPR_ESCAPES.get(c)
        if esc is not None:
            out += esc
        elif 32 <= c <= 126:
            out.append(c)
        else:
            out += b"\\x%02x" % c
    out += b'"'
    return bytes(out)
