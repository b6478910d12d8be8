"""x87 80-bit long double arithmetic, as Redis's INCRBYFLOAT and HINCRBYFLOAT compute.

Redis does these in C long double: on x86-64 the x87 extended format (64-bit significand,
15-bit exponent). Values are exact Fractions rounded to that format; parsing follows
strtold on the whole string (string2ld), printing follows "%.17Lf" and ld2string's
LD_STR_HUMAN trimming. Digit strings may exceed Python's int<->str conversion limit.
"""
import re
from fractions import Fraction

_LD_MAX_EXP = 16384          # finite values are < 2**16384
_LD_MIN_EXP = -16382         # smallest normal exponent
_LD_INF_BOUND = 1 << _LD_MAX_EXP
_LD_RE = None                # compiled on first use: compiling it costs ~8 ms of start-up


def _ld_re():
    global _LD_RE
    _LD_RE = re.compile(
        rb"([+-]?)(?:(inf(?:inity)?)|(nan(?:\([0-9a-z_]*\))?)"
        rb"|0x([0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p([+-]?[0-9]+))?"
        rb"|([0-9]+\.?[0-9]*|\.[0-9]+)(?:e([+-]?[0-9]+))?)", re.I)
    return _LD_RE
_MAX_LD_CHARS = 5 * 1024
_POS_INF = float("inf")
_NEG_INF = float("-inf")


def _big_int(digits):
    """int() of a decimal digit string of any length (beyond int_max_str_digits)."""
    if len(digits) <= 4000:
        return int(digits)
    return _big_int(digits[:-4000]) * 10 ** 4000 + int(digits[-4000:])


def _int_str(n):
    """str() of a non-negative int of any size (beyond int_max_str_digits)."""
    if n < 10 ** 4000:
        return b"%d" % n
    hi, lo = divmod(n, 10 ** 4000)
    return _int_str(hi) + (b"%d" % lo).rjust(4000, b"0")


def _clamp_exp(s):
    s = s.lstrip(b"+")
    neg = s.startswith(b"-")
    s = s.lstrip(b"-").lstrip(b"0") or b"0"
    if len(s) > 7:
        return -10 ** 7 if neg else 10 ** 7
    return -int(s) if neg else int(s)


def parse_long_double(b):
    """Redis's string2ld (strtold on the whole string): a Fraction holding the exact
    long double, +-inf (floats) for infinities, or None when Redis rejects the string
    (syntax, NaN, overflow, underflow to zero, leading space, too long)."""
    if not b or len(b) >= _MAX_LD_CHARS:
        return None
    m = (_LD_RE or _ld_re()).fullmatch(b)
    if m is None:
        return None
    sign, inf, nan, hexm, hexe, decm, dece = m.groups()
    if nan is not None:
        return None
    neg = sign == b"-"
    if inf is not None:
        return _NEG_INF if neg else _POS_INF
    if hexm is not None:
        ip, _, fp = hexm.partition(b".")
        mant = int((ip + fp) or b"0", 16)
        if mant == 0:
            return Fraction(0)
        e2 = (_clamp_exp(hexe) if hexe else 0) - 4 * len(fp)
        top = mant.bit_length() + e2
        if top > _LD_MAX_EXP + 1:
            return None
        if top < _LD_MIN_EXP - 80:
            return None
        x = Fraction(mant << e2) if e2 >= 0 else Fraction(mant, 1 << -e2)
    else:
        ip, _, fp = decm.partition(b".")
        digits = (ip + fp).lstrip(b"0")
        if not digits:
            return Fraction(0)
        e10 = (_clamp_exp(dece) if dece else 0) - len(fp)
        mag = len(digits) + e10        # x < 10**mag
        if mag > 4934:
            return None
        if mag < -4955:
            return None
        mant = _big_int(digits)
        x = Fraction(mant * 10 ** e10) if e10 >= 0 else Fraction(mant, 10 ** -e10)
    r = round_ld(x)
    if r is None or r == 0:
        return None   # ERANGE: overflow to HUGE_VAL or underflow to zero
    return -r if neg else r


def round_ld(x):
    """Round an exact rational to the nearest long double (ties to even); None when it
    overflows to infinity."""
    if x == 0:
        return Fraction(0)
    neg = x < 0
    if neg:
        x = -x
    p, q = x.numerator, x.denominator
    e = p.bit_length() - q.bit_length()
    if e >= 0:
        if p < (q << e):
            e -= 1
    elif (p << -e) < q:
        e -= 1
    if e < _LD_MIN_EXP:
        e = _LD_MIN_EXP
    shift = e - 63
    if shift >= 0:
        n, r = divmod(p, q << shift)
        den = q << shift
    else:
        n, r = divmod(p << -shift, q)
        den = q
    r2 = r << 1
    if r2 > den or (r2 == den and n & 1):
        n += 1
    if shift >= 0:
        res = Fraction(n << shift)
        if res >= _LD_INF_BOUND:
            return None
    else:
        res = Fraction(n, 1 << -shift)
    return -res if neg else res


def format_long_double(x):
    """ld2string(LD_STR_HUMAN): "%.17Lf" with trailing zeros (and '.') removed, "-0"
    shown as "0". x is an exact long double (Fraction)."""
    neg = x < 0
    n = round(abs(x) * 10 ** 17)     # half-even on the exact value, as glibc's printf
    s = _int_str(n).rjust(18, b"0")
    ip, fp = s[:-17], s[-17:].rstrip(b"0")
    out = ip + b"." + fp if fp else ip
    if neg:
        out = b"-" + out
    if out == b"-0":
        out = b"0"
    return out
