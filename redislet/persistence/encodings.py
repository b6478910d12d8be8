"""The compact encodings found inside RDB strings: listpack (Redis 7), ziplist (Redis 3.2 to
6.2), intset and zipmap (Redis 2.x). Decoders return a list of elements, each bytes or int
(integer-encoded entries); encoders build exactly the bytes Redis 7.0 would.

Decoders raise EncodingError on any malformed input (lengths past the end, bad headers,
unknown entry encodings, counts that do not match).
"""
from struct import pack, unpack_from, Struct

_U32 = Struct("<I")
_I16 = Struct("<h")
_I32 = Struct("<i")
_I64 = Struct("<q")
_BE32 = Struct(">I")
_HDR_LP = Struct("<IH")
_HDR_ZL = Struct("<IIH")
_HDR_IS = Struct("<II")

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


class EncodingError(ValueError):
    pass


def as_int(s):
    """lpStringToInt64 / string2ll with the round-trip test: the int64 that s spells in
    canonical form (no sign '+', no leading zeros, no "-0"), or None."""
    n = len(s)
    if n == 0 or n > 20:
        return None
    c = s[0]
    if c == 45:
        if n == 1 or s[1] == 48 or not s[1:].isdigit():
            return None
    elif c == 48:
        return 0 if n == 1 else None
    elif not s.isdigit():
        return None
    v = int(s)
    if INT64_MIN <= v <= INT64_MAX:
        return v
    return None


def to_bytes(x):
    return x if type(x) is bytes else b"%d" % x


# -- listpack ----------------------------------------------------------------------------
def _backlen_size(n):
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def lp_decode(buf):
    """The elements of a listpack (bytes for strings, int for integers)."""
    n = len(buf)
    if n < 7:
        raise EncodingError("listpack too short")
    total, count = _HDR_LP.unpack_from(buf, 0)
    if total != n or buf[n - 1] != 0xFF:
        raise EncodingError("listpack header size mismatch")
    out = []
    append = out.append
    p = 6
    last = n - 1
    while p < last:
        b = buf[p]
        if b < 0x80:
            append(b)
            p += 2
        elif b < 0xC0:
            s = p + 1
            e = s + (b & 0x3F)
            if e >= last:
                raise EncodingError("listpack entry past the end")
            append(buf[s:e])
            p = e + 1
        elif b < 0xE0:
            v = ((b & 0x1F) << 8) | buf[p + 1]
            append(v - 8192 if v >= 4096 else v)
            p += 3
        elif b < 0xF0:
            ln = ((b & 0x0F) << 8) | buf[p + 1]
            s = p + 2
            e = s + ln
            if e >= last:
                raise EncodingError("listpack entry past the end")
            append(buf[s:e])
            p = e + _backlen_size(ln + 2)
        elif b == 0xF0:
            ln = _U32.unpack_from(buf, p + 1)[0]
            s = p + 5
            e = s + ln
            if e >= last:
                raise EncodingError("listpack entry past the end")
            append(buf[s:e])
            p = e + _backlen_size(ln + 5)
        elif b == 0xF1:
            append(_I16.unpack_from(buf, p + 1)[0])
            p += 4
        elif b == 0xF2:
            append(int.from_bytes(buf[p + 1:p + 4], "little", signed=True))
            p += 5
        elif b == 0xF3:
            append(_I32.unpack_from(buf, p + 1)[0])
            p += 6
        elif b == 0xF4:
            append(_I64.unpack_from(buf, p + 1)[0])
            p += 10
        else:
            raise EncodingError("invalid listpack entry encoding")
    if p != last:
        raise EncodingError("listpack entries overrun the end marker")
    if count != 65535 and count != len(out):
        raise EncodingError("listpack count mismatch")
    return out


def _backlen(n):
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128,
                      (n & 127) | 128))
    return bytes((n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128,
                  ((n >> 7) & 127) | 128, (n & 127) | 128))


_SMALL_INT = [bytes((v, 1)) for v in range(128)]


def lp_int(v):
    """One listpack integer entry (encoding, data, backlen)."""
    if 0 <= v <= 127:
        return _SMALL_INT[v]
    if -4096 <= v <= 4095:
        u = v & 0x1FFF
        return bytes((0xC0 | (u >> 8), u & 0xFF, 2))
    if -32768 <= v <= 32767:
        return b"\xf1" + _I16.pack(v) + b"\x03"
    if -8388608 <= v <= 8388607:
        return b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little") + b"\x04"
    if -2147483648 <= v <= 2147483647:
        return b"\xf3" + _I32.pack(v) + b"\x05"
    return b"\xf4" + _I64.pack(v) + b"\x09"


def lp_str(s):
    """One listpack string entry; strings that spell an int64 are stored as integers."""
    n = len(s)
    if n <= 20 and n:
        c = s[0]
        if 48 <= c <= 57 or c == 45:
            v = as_int(s)
            if v is not None:
                return lp_int(v)
    if n < 64:
        return bytes((0x80 | n,)) + s + bytes((n + 1,))
    if n < 4096:
        return bytes((0xE0 | (n >> 8), n & 0xFF)) + s + _backlen(n + 2)
    return b"\xf0" + _U32.pack(n) + s + _backlen(n + 5)


def lp_build(elements):
    """A listpack of elements (bytes or int)."""
    parts = [lp_str(e) if type(e) is bytes else lp_int(e) for e in elements]
    body = b"".join(parts)
    count = len(parts)
    return _HDR_LP.pack(len(body) + 7, count if count < 65535 else 65535) + body + b"\xff"


# -- ziplist -----------------------------------------------------------------------------
def zl_decode(buf):
    n = len(buf)
    if n < 11:
        raise EncodingError("ziplist too short")
    zlbytes, _tail, count = _HDR_ZL.unpack_from(buf, 0)
    if zlbytes != n or buf[n - 1] != 0xFF:
        raise EncodingError("ziplist header size mismatch")
    out = []
    append = out.append
    p = 10
    last = n - 1
    while p < last:
        p += 1 if buf[p] < 254 else 5
        b = buf[p]
        t = b >> 6
        if t == 0:
            s = p + 1
            e = s + (b & 0x3F)
        elif t == 1:
            s = p + 2
            e = s + (((b & 0x3F) << 8) | buf[p + 1])
        elif b == 0x80:
            s = p + 5
            e = s + _BE32.unpack_from(buf, p + 1)[0]
        else:
            if b == 0xC0:
                append(_I16.unpack_from(buf, p + 1)[0])
                p += 3
            elif b == 0xD0:
                append(_I32.unpack_from(buf, p + 1)[0])
                p += 5
            elif b == 0xE0:
                append(_I64.unpack_from(buf, p + 1)[0])
                p += 9
            elif b == 0xF0:
                append(int.from_bytes(buf[p + 1:p + 4], "little", signed=True))
                p += 4
            elif b == 0xFE:
                v = buf[p + 1]
                append(v - 256 if v > 127 else v)
                p += 2
            elif 0xF1 <= b <= 0xFD:
                append((b & 0x0F) - 1)
                p += 1
            else:
                raise EncodingError("invalid ziplist entry encoding")
            continue
        if e > last:
            raise EncodingError("ziplist entry past the end")
        append(buf[s:e])
        p = e
    if p != last:
        raise EncodingError("ziplist entries overrun the end marker")
    if count != 65535 and count != len(out):
        raise EncodingError("ziplist count mismatch")
    return out


# -- intset ------------------------------------------------------------------------------
_IS_FMT = {2: "h", 4: "i", 8: "q"}


def intset_decode(buf):
    if len(buf) < 8:
        raise EncodingError("intset too short")
    enc, length = _HDR_IS.unpack_from(buf, 0)
    f = _IS_FMT.get(enc)
    if f is None or len(buf) != 8 + enc * length:
        raise EncodingError("intset header mismatch")
    vals = unpack_from("<%d%s" % (length, f), buf, 8)
    for i in range(1, length):
        if vals[i - 1] >= vals[i]:
            raise EncodingError("intset not sorted or with duplicates")
    return vals


def intset_build(values):
    vals = sorted(values)
    lo = vals[0] if vals else 0
    hi = vals[-1] if vals else 0
    if -32768 <= lo and hi <= 32767:
        enc = 2
    elif -2147483648 <= lo and hi <= 2147483647:
        enc = 4
    else:
        enc = 8
    return _HDR_IS.pack(enc, len(vals)) + pack("<%d%s" % (len(vals), _IS_FMT[enc]), *vals)


# -- zipmap ------------------------------------------------------------------------------
def zipmap_decode(buf):
    """The field, value, field, value... of a zipmap."""
    n = len(buf)
    if n < 2 or buf[n - 1] != 0xFF:
        raise EncodingError("zipmap malformed")
    out = []
    p = 1
    while True:
        b = buf[p]
        if b == 255:
            break
        if b < 254:
            klen = b
            p += 1
        else:
            klen = _U32.unpack_from(buf, p + 1)[0]
            p += 5
        if p + klen > n:
            raise EncodingError("zipmap entry past the end")
        out.append(buf[p:p + klen])
        p += klen
        b = buf[p]
        if b < 254:
            vlen = b
            p += 1
        elif b == 254:
            vlen = _U32.unpack_from(buf, p + 1)[0]
            p += 5
        else:
            raise EncodingError("zipmap value missing")
        free = buf[p]
        p += 1
        if p + vlen + free > n - 1:
            raise EncodingError("zipmap entry past the end")
        out.append(buf[p:p + vlen])
        p += vlen + free
    if p != n - 1:
        raise EncodingError("zipmap trailing bytes")
    return out
