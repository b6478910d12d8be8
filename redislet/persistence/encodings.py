"""The compact encodings found inside RDB strings: listpack (Redis 7), ziplist (Redis 3.2 to
6.2), intset and zipmap (Redis 2.x), and the RDB string records themselves (rdbSaveRawString
and the runs of them that sets, hashes, zsets and string keys are made of). Decoders return
a list of elements, each bytes or int (integer-encoded entries); encoders build exactly the
bytes Redis 7.0 would. The loops here are compiled by the compiled build (encodings.pxd).

Decoders raise EncodingError on any malformed input (lengths past the end, bad headers,
unknown entry encodings, counts that do not match).
"""
import sys
from array import array
from itertools import chain
from operator import itemgetter
from struct import pack, unpack_from, Struct, error as struct_error

from . import lzf

_U32 = Struct("<I")
_I16 = Struct("<h")
_I32 = Struct("<i")
_I64 = Struct("<q")
_BE32 = Struct(">I")
_BE64 = Struct(">Q")
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


def lp_header_ok(buf):
    """lpValidateIntegrity with deep=0: the header's total size matches the buffer and the
    last byte is the terminator."""
    n = len(buf)
    return n >= 7 and _U32.unpack_from(buf, 0)[0] == n and buf[n - 1] == 0xFF


def _lp_bad(what):
    raise EncodingError(what)


def lp_decode(buf, check_count=True, strict_end=True):
    """The elements of a listpack (bytes for strings, int for integers), accepting exactly
    what lpValidateIntegrity(deep=1) accepts: each entry checked as lpValidateNext does
    (encoding, bounds, back-length), the walk ending on the terminator, the header count
    matching (unless 65535). check_count=False, strict_end=False: the checks
    streamValidateListpackIntegrity makes (no count; the walk stops at the first EOF byte,
    which need not be the last one)."""
    n = len(buf)
    if n < 7:
        raise EncodingError("listpack too short")
    total, count = _HDR_LP.unpack_from(buf, 0)
    if total != n or buf[n - 1] != 0xFF:
        raise EncodingError("listpack header size mismatch")
    out = []
    p = 6
    last = n - 1
    chars = buf      # (compiled: a char pointer, whose slices are made without a slice object)
    d = buf      # (compiled: a typed view for direct reads)
    try:
        while True:
            b = d[p]
            # the two common entries first, each with its 1-byte back-length: a 7-bit
            # uint (back-length 1) and a 6-bit string (back-length = its size); the
            # terminator at `last` can never pass for a back-length
            if b < 0x80:
                if d[p + 1] != 1:
                    _lp_bad("listpack back-length mismatch")
                out.append(b)
                p += 2
                continue
            if b < 0xC0:
                e = p + 1 + (b & 0x3F)
                if e > last:
                    _lp_bad("listpack entry past the end")
                if d[e] != e - p:
                    _lp_bad("listpack back-length mismatch")
                out.append(chars[p + 1:e])
                p = e + 1
                continue
            if b == 0xFF:
                break
            if b < 0xE0:
                if p + 1 > last:
                    _lp_bad("listpack entry past the end")
                v = ((b & 0x1F) << 8) | d[p + 1]
                e = p + 2
                out.append(v - 8192 if v >= 4096 else v)
            elif b < 0xF0:
                if p + 2 > last:
                    _lp_bad("listpack entry past the end")
                e = p + 2 + (((b & 0x0F) << 8) | d[p + 1])
                if e > last:
                    _lp_bad("listpack entry past the end")
                out.append(chars[p + 2:e])
            elif b == 0xF0:
                if p + 5 > last:
                    _lp_bad("listpack entry past the end")
                ln = _U32.unpack_from(buf, p + 1)[0]
                e = p + ((5 + ln) & 0xFFFFFFFF)     # uint32 arithmetic, as in C
                if e > last:
                    _lp_bad("listpack entry past the end")
                out.append(chars[p + 5:e] if e >= p + 5 else b"")
            elif b <= 0xF4:
                if b == 0xF1:
                    e = p + 3
                elif b == 0xF2:
                    e = p + 4
                elif b == 0xF3:
                    e = p + 5
                else:
                    e = p + 9
                if p + 1 > last or e > last:
                    _lp_bad("listpack entry past the end")
                if b == 0xF1:
                    out.append(_I16.unpack_from(buf, p + 1)[0])
                elif b == 0xF2:
                    out.append(int.from_bytes(buf[p + 1:p + 4], "little", signed=True))
                elif b == 0xF3:
                    out.append(_I32.unpack_from(buf, p + 1)[0])
                else:
                    out.append(_I64.unpack_from(buf, p + 1)[0])
            else:
                _lp_bad("invalid listpack entry encoding")
            # the back-length: its size follows from the entry length, it must fit and
            # spell that length (lpValidateNext)
            ln = e - p
            if ln <= 127:
                if e > last or d[e] != ln:
                    _lp_bad("listpack back-length mismatch")
                p = e + 1
            else:
                bl = _backlen_size(ln)
                q = e + bl
                if q > last or _decode_backlen(buf, q - 1) != ln:
                    _lp_bad("listpack back-length mismatch")
                p = q
    except IndexError:
        raise EncodingError("listpack entry past the end") from None
    if strict_end and p != last:
        raise EncodingError("listpack entries overrun the end marker")
    if check_count and count != 65535 and count != len(out):
        raise EncodingError("listpack count mismatch")
    return out


def lp_entry_end(buf, p):
    """lpValidateNext on the entry at p of a listpack whose header was checked: the
    position of the next entry, or None when the entry is invalid (or p is the EOF byte)."""
    n = len(buf)
    last = n - 1
    if p < 6 or p > last or buf[p] == 0xFF:
        return None
    b = buf[p]
    if b < 0x80:
        ln = 1
    elif b < 0xC0:
        ln = 1 + (b & 0x3F)
    elif b < 0xE0:
        ln = 2
    elif b < 0xF0:
        if p + 2 > last:
            return None
        ln = 2 + (((b & 0x0F) << 8) | buf[p + 1])
    elif b == 0xF0:
        if p + 5 > last:
            return None
        ln = (5 + _U32.unpack_from(buf, p + 1)[0]) & 0xFFFFFFFF
    elif b <= 0xF4:
        ln = (3, 4, 5, 9)[b - 0xF1]
    else:
        return None
    if p + 1 > last:
        return None
    bl = _backlen_size(ln)
    q = p + ln + bl
    if q > last or _decode_backlen(buf, q - 1) != ln:
        return None
    return q


def lp_decode_prefix(buf):
    """The elements of a listpack (header checked) up to its first invalid entry, and
    whether the walk reached an EOF byte (True) or stopped at an invalid entry (False)."""
    out = []
    p = 6
    while buf[p] != 0xFF:
        q = lp_entry_end(buf, p)
        if q is None:
            return out, False
        out.extend(lp_decode(_U32.pack(q - p + 7) + b"\x01\x00" + buf[p:q] + b"\xff"))
        p = q
    return out, True


def _decode_backlen(buf, p):
    """lpDecodeBacklen: the length spelled backwards from p, or -1 when over 5 bytes."""
    val = 0
    shift = 0
    while True:
        b = buf[p]
        val |= (b & 127) << shift
        if not b & 128:
            return val
        shift += 7
        p -= 1
        if shift > 28:
            return -1


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


# A short string (< 64 bytes) that cannot spell an integer is the common entry: its
# encoding byte and back-length byte come from these tables, no call per element.
_STR6_HEAD = [bytes((0x80 | n,)) for n in range(64)]
_STR6_TAIL = [bytes((n + 1,)) for n in range(64)]
_NUMSTART_BYTES = b"-0123456789"       # what an integer-encodable string starts with
NUMSTART = frozenset(_NUMSTART_BYTES)


def lp_entries(elements, parts):
    """Append the encoded entries of elements (bytes or int) to the list parts."""
    head = _STR6_HEAD
    tail = _STR6_TAIL
    numstart = NUMSTART
    small = _SMALL_INT
    for e in elements:
        if type(e) is bytes:
            n = len(e)
            if n < 64:
                # only digits, after a '-' or not, can spell an int64 (a score such as
                # b"1.5" is a string without a call)
                if (n and e[0] in numstart and n <= 20
                        and (e.isdigit() or e[0] == 45 and e[1:].isdigit())):
                    parts.append(_lp_numeric(e))
                else:
                    parts.append(head[n])
                    parts.append(e)
                    parts.append(tail[n])
            else:
                parts.append(lp_str(e))
        elif 0 <= e <= 127:
            parts.append(small[e])
        else:
            parts.append(lp_int(e))


def _lp_numeric(s):
    """lp_str of a string of 1 to 63 bytes starting with a digit or '-': as_int's
    canonical-int64 test done with C-speed isdigit."""
    n = len(s)
    if n <= 20 and (s.isdigit() and (s[0] != 48 or n == 1)
                    or s[0] == 45 and n > 1 and s[1] != 48 and s[1:].isdigit()):
        v = int(s)
        if INT64_MIN <= v <= INT64_MAX:
            return lp_int(v)
    return _STR6_HEAD[n] + s + _STR6_TAIL[n]


def lp_from_parts(parts, count):
    """The listpack holding count entries whose encodings are the list parts."""
    body = b"".join(parts)
    return _HDR_LP.pack(len(body) + 7, count if count < 65535 else 65535) + body + b"\xff"


def lp_build(elements):
    """A listpack of elements (bytes or int)."""
    if type(elements) is not list:
        elements = list(elements)
    parts = []
    lp_entries(elements, parts)
    return lp_from_parts(parts, len(elements))


# -- RDB string records: writing (rdbSaveRawString and runs of it) ----------------------
LEN1 = [bytes((i,)) for i in range(64)]
_first = itemgetter(0)
_chain = chain.from_iterable


def enc_len(n):
    if n < 64:
        return LEN1[n]
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + _BE32.pack(n)
    return b"\x81" + _BE64.pack(n & 0xFFFFFFFFFFFFFFFF)


_enc_i8 = Struct("<Bb").pack       # (0xc0, v): the encoding byte and the value
_enc_i16 = Struct("<Bh").pack
_enc_i32 = Struct("<Bi").pack
_BIG_ENDIAN = sys.byteorder == "big"


def enc_int_string(v):
    """The RDB integer encoding of v (int32 range) or None."""
    if -128 <= v <= 127:
        return _enc_i8(0xC0, v)
    if -32768 <= v <= 32767:
        return _enc_i16(0xC1, v)
    if -2147483648 <= v <= 2147483647:
        return _enc_i32(0xC2, v)
    return None


def _enc_short_int(s):
    """enc_string of a string of 1 to 11 bytes starting with a digit or '-': its integer
    encoding when it is a canonical int32 (as_int's test, with C-speed isdigit), else
    the raw string."""
    if s.isdigit():
        canonical = s[0] != 48 or len(s) == 1
    else:
        canonical = len(s) > 1 and s[1] != 48 and s[1:].isdigit()   # '-' then digits
    if canonical:
        v = int(s)
        if -128 <= v <= 127:
            return _enc_i8(0xC0, v)
        if -32768 <= v <= 32767:
            return _enc_i16(0xC1, v)
        if -2147483648 <= v <= 2147483647:
            return _enc_i32(0xC2, v)
    return LEN1[len(s)] + s


def enc_string(s, compress=True):
    """rdbSaveRawString: integer encoding for short canonical integers, LZF for strings
    longer than 20 bytes when it saves space (and compress is on), raw otherwise."""
    n = len(s)
    if n <= 11 and n:
        c = s[0]
        if 48 <= c <= 57 or c == 45:
            v = as_int(s)
            if v is not None:
                e = enc_int_string(v)
                if e is not None:
                    return e
    elif compress and n > 20:
        comp = lzf.compress(s, n - 4)
        if comp is not None:
            return b"\xc3" + enc_len(len(comp)) + enc_len(n) + comp
    if n < 64:
        return LEN1[n] + s
    return enc_len(n) + s


def enc_strings(strings, compress, after=None):
    """rdbSaveRawString of each string, joined; each followed by the item of `after` at
    its index when given (a zset's binary scores). The common cases take no call: a
    string that can be neither integer-encoded (12 bytes or more, or not starting like a
    number) nor compressed (20 bytes or less, or compression off) is its length byte and
    its bytes (when all are, one C-level join); a short one starting like a number takes
    _enc_short_int."""
    strings = list(strings)
    lens = list(map(len, strings))
    if lens and max(lens) <= (20 if compress else 63) and min(lens):
        firsts = bytes(map(_first, strings))
        if len(firsts.translate(None, _NUMSTART_BYTES)) == len(firsts):
            heads = map(LEN1.__getitem__, lens)
            return b"".join(_chain(zip(heads, strings) if after is None
                                   else zip(heads, strings, after)))
    out = []
    len1 = LEN1
    numstart = NUMSTART
    for x in strings:
        n = len(x)
        if n <= 11:
            if n and x[0] in numstart:
                if n < 10 and x.isdigit() and (x[0] != 48 or n == 1):
                    v = int(x)              # a canonical int below 10^9: an int32
                    out.append(_enc_i8(0xC0, v) if v < 128 else _enc_i16(0xC1, v)
                               if v < 32768 else _enc_i32(0xC2, v))
                else:
                    out.append(_enc_short_int(x))
            else:
                out.append(len1[n] + x)
        elif n <= 20 or n < 64 and not compress:
            out.append(len1[n] + x)
        else:
            out.append(enc_string(x, compress))
    return b"".join(out if after is None else _chain(zip(out, after)))


def enc_ints_one_width(strings):
    """The RDB encodings of strings (bytes) that all spell canonical integers from 1 to
    2^31 - 1 encoded in one width (say a set of integers past the intset limits): each
    record the width's tag (0xc0, 0xc1, 0xc2) and the little-endian value. None for
    anything else. Two passes of a byte loop (compiled: typed by the .pxd): one finds
    the range, one writes the records."""
    n = len(strings)
    if n == 0:
        return None
    lo = 2147483647
    hi = 0
    for x in strings:
        v = _canon_uint31(x)
        if v < 0:
            return None
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    if lo >= 32768:
        w = 4
        tag = 0xC2
    elif lo >= 128 and hi < 32768:
        w = 2
        tag = 0xC1
    elif hi < 128:
        w = 1
        tag = 0xC0
    else:
        return None
    out = bytearray((w + 1) * n)
    j = 0
    for x in strings:
        v = _canon_uint31(x)
        out[j] = tag
        for k in range(w):
            out[j + 1 + k] = (v >> (8 * k)) & 255
        j += w + 1
    return bytes(out)


def _canon_uint31(x):
    """The value of x if it is bytes spelling an integer from 1 to 2^31 - 1 canonically
    (digits only, no leading zero), else -1."""
    if type(x) is not bytes:
        return -1
    n = len(x)
    if n == 0 or n > 10:
        return -1
    chars = x
    if chars[0] == 48:          # a leading zero, or a lone 0
        return -1
    v = 0
    for i in range(n):
        d = chars[i] - 48
        if d < 0 or d > 9:
            return -1
        v = v * 10 + d
    return v if v <= 2147483647 else -1


# -- RDB string records: reading runs of them (sets, hashes, zsets, string keys) --------
# the 8/16/32-bit integer encodings (0xc0-0xc2): record width, the array type code of
# the value, the encoding byte
_INT_RUNS = ((2, "b", b"\xc0"), (3, "h", b"\xc1"), (5, "i", b"\xc2"))


def ints_as_bytes(values):
    """The decimal bytes of each int of the sequence values, formatted in one go: one
    bytes % tuple formats them all in C, then one split (2.4x faster than b"%d" % each)."""
    return ((b"%d," * len(values)) % tuple(values)).split(b",")[:-1]
_unpack_h = _I16.unpack_from
_unpack_i = _I32.unpack_from
_unpack_d = Struct("<d").unpack_from


def read_string_run(d, p, end, n, out):
    """Read up to n RDB string records from d[p:end] into the list out, while each is a raw
    string under 64 bytes or an 8/16/32-bit integer (most members of sets, hashes and
    zsets); returns the position of the first record not read (another encoding, or one
    that does not fit before end: the caller reads it with the general reader, which
    reports the error). Consecutive integers of one width (a set of integers past the
    intset limits) are read as an array, up to 1024 at a time, and formatted together."""
    v = d           # (compiled: a typed view, for direct reads)
    chars = d       # (compiled: a char pointer, whose slices are made without a slice object)
    want = len(out) + n
    while len(out) < want:
        for i in range(want - len(out)):
            b = v[p] if p < end else 255
            if b < 64:
                e = p + 1 + b
                if e <= end:
                    out.append(chars[p + 1:e])
                    p = e
                    continue
            elif b == 0xC1:
                # one branch per width, not _INT_RUNS: the table lookup costs a hash of
                # integer values about 9 % of its read
                if p + 3 <= end:
                    if p + 3 < end and v[p + 3] == b:
                        break               # a run: below
                    out.append(b"%d" % _unpack_h(d, p + 1)[0])
                    p += 3
                    continue
            elif b == 0xC2:
                if p + 5 <= end:
                    if p + 5 < end and v[p + 5] == b:
                        break
                    out.append(b"%d" % _unpack_i(d, p + 1)[0])
                    p += 5
                    continue
            elif b == 0xC0:
                if p + 2 <= end:
                    if p + 2 < end and v[p + 2] == b:
                        break
                    e = v[p + 1]
                    out.append(b"%d" % (e - 256 if e > 127 else e))
                    p += 2
                    continue
            return p
        else:
            return p
        # integers of width w from p on: the run is the prefix of their encoding byte
        # among the next records' first bytes (each one found is where the next starts)
        w, code, tag = _INT_RUNS[b - 0xC0]
        left = want - len(out)
        tags = d[p:p + w * (left if left < 1024 else 1024):w]
        k = len(tags) - len(tags.lstrip(tag))
        if p + w * k > end:
            k = (end - p) // w
        e = p + w * k
        raw = bytearray(d[p:e])
        del raw[0::w]                   # the values without their encoding bytes
        vals = array(code, raw)
        if _BIG_ENDIAN:
            vals.byteswap()
        out += ints_as_bytes(vals)
        p = e
    return p


def read_scored_run(d, p, end, n, members, scores):
    """Read up to n ZSET_2 member/score pairs from d[p:end] into the lists members and
    scores, while the member is a raw string under 64 bytes; returns the position of the
    first pair not read."""
    v = d           # (compiled: a typed view, for direct reads)
    chars = d       # (compiled: a char pointer, whose slices are made without a slice object)
    for i in range(n):
        b = v[p] if p < end else 255
        q = p + 1 + b
        if b >= 64 or q + 8 > end:
            return p
        members.append(chars[p + 1:q])
        scores.append(_unpack_d(d, q)[0])
        p = q + 8
    return p


def read_string_pairs(data, p, stop, d):
    """The string keys of an RDB from p on whose key and value are both raw strings under
    64 bytes, with no expire, idle or freq record before them (most keys of a big
    dataset of short strings), put into the dict d up to the first entry that does not
    end before stop or whose key is already in d (both left for the caller's general
    reader). Returns (position, keys put)."""
    n = len(d)
    view = data     # (compiled: a typed view, for direct reads)
    chars = data    # (compiled: a char pointer, whose slices are made without a slice object)
    # setdefault stores a new key, and for a duplicate returns the value already there,
    # which is not the fresh slice v; slices of 0 or 1 bytes are shared objects, so those
    # values take the explicit test
    put = d.setdefault
    while p + 2 < stop and not view[p]:
        b = view[p + 1]
        if b >= 64:
            break
        q = p + 2 + b
        if q >= stop:
            break
        b = view[q]
        if b >= 64:
            break
        e = q + 1 + b
        if e >= stop:
            break
        v = chars[q + 1:e]
        if b < 2:
            k = chars[p + 2:q]
            if k in d:
                break           # a duplicate: the caller reads it again (and finds it in d)
            d[k] = v
        elif put(chars[p + 2:q], v) is not v:
            break
        p = e
    return p, len(d) - n


# -- ziplist -----------------------------------------------------------------------------
def zl_decode(buf):
    """The elements of a ziplist, accepting exactly what ziplistValidateIntegrity(deep=1)
    accepts (Redis 7 always validates ziplists deeply, converting them on load): header
    size and terminator, tail offset in range, each entry inside the ziplist
    (zipEntrySafe) with a valid encoding and a prevlen equal to the previous entry's size,
    the walk ending on the terminator, the tail offset pointing at the last entry and the
    header count matching (unless 65535)."""
    n = len(buf)
    if n < 11:
        raise EncodingError("ziplist too short")
    zlbytes, tail, count = _HDR_ZL.unpack_from(buf, 0)
    if zlbytes != n or buf[n - 1] != 0xFF:
        raise EncodingError("ziplist header size mismatch")
    last = n - 1
    if tail > last:
        raise EncodingError("ziplist tail offset out of range")
    out = []
    append = out.append
    p = 10
    prev = -1
    prev_raw = 0
    try:
        while buf[p] != 0xFF:
            b = buf[p]
            if b < 254:
                prevlen = b
                h = p + 1
            else:
                if p + 5 > last:
                    raise EncodingError("ziplist entry header past the end")
                prevlen = _U32.unpack_from(buf, p + 1)[0]
                h = p + 5
            b = buf[h]
            if b < 0xC0:
                t = b & 0xC0
                if t == 0:
                    s = h + 1
                    ln = b & 0x3F
                elif t == 0x40:
                    s = h + 2
                    if s > last:
                        raise EncodingError("ziplist entry header past the end")
                    ln = ((b & 0x3F) << 8) | buf[h + 1]
                else:
                    s = h + 5
                    if s > last:
                        raise EncodingError("ziplist entry header past the end")
                    ln = _BE32.unpack_from(buf, h + 1)[0]
                e = s + ln
                if e > last:
                    raise EncodingError("ziplist entry past the end")
                v = buf[s:e]
            else:
                s = h + 1
                if b == 0xC0:
                    e = s + 2
                elif b == 0xD0:
                    e = s + 4
                elif b == 0xE0:
                    e = s + 8
                elif b == 0xF0:
                    e = s + 3
                elif b == 0xFE:
                    e = s + 1
                elif 0xF1 <= b <= 0xFD:
                    e = s
                else:
                    raise EncodingError("invalid ziplist entry encoding")
                if e > last:
                    raise EncodingError("ziplist entry past the end")
                if b == 0xC0:
                    v = _I16.unpack_from(buf, s)[0]
                elif b == 0xD0:
                    v = _I32.unpack_from(buf, s)[0]
                elif b == 0xE0:
                    v = _I64.unpack_from(buf, s)[0]
                elif b == 0xF0:
                    v = int.from_bytes(buf[s:e], "little", signed=True)
                elif b == 0xFE:
                    v = buf[s]
                    if v > 127:
                        v -= 256
                else:
                    v = (b & 0x0F) - 1
            if p - prevlen < 10:
                raise EncodingError("ziplist prevlen reaches outside the ziplist")
            if prevlen != prev_raw:
                raise EncodingError("ziplist prevlen mismatch")
            append(v)
            prev_raw = e - p
            prev = p
            p = e
    except (IndexError, struct_error):
        raise EncodingError("ziplist entry past the end") from None
    if p != last:
        raise EncodingError("ziplist entries overrun the end marker")
    if prev != -1 and prev != tail:
        raise EncodingError("ziplist tail offset mismatch")
    if count != 65535 and count != len(out):
        raise EncodingError("ziplist count mismatch")
    return out


# -- intset ------------------------------------------------------------------------------
_IS_FMT = {2: "h", 4: "i", 8: "q"}


def intset_decode(buf, deep=True):
    """The values of an intset, as intsetValidateIntegrity accepts it: a known encoding,
    a size matching the count, not empty; deep: strictly ascending (no duplicates).
    With deep=False the values come back as stored (Redis keeps them unchecked)."""
    if len(buf) < 8:
        raise EncodingError("intset too short")
    enc, length = _HDR_IS.unpack_from(buf, 0)
    f = _IS_FMT.get(enc)
    if f is None or len(buf) != 8 + enc * length:
        raise EncodingError("intset header mismatch")
    if length == 0:
        raise EncodingError("intset empty")
    vals = unpack_from("<%d%s" % (length, f), buf, 8)
    if deep:
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
    """The field, value, field, value... of a zipmap, as zipmapValidateIntegrity(deep=1)
    accepts it: terminator last, every length and entry (with its free bytes) inside the
    zipmap, at least one entry, the count byte matching (unless 254)."""
    n = len(buf)
    if n < 2 or buf[n - 1] != 0xFF:
        raise EncodingError("zipmap malformed")
    last = n - 1
    out = []
    p = 1
    count = 0
    try:
        while buf[p] != 0xFF:
            if buf[p] < 254:
                ln = buf[p]
                s = p + 1
            else:
                s = p + 5
                if s < 2 or s > last:
                    raise EncodingError("zipmap entry past the end")
                ln = _U32.unpack_from(buf, p + 1)[0]
            if s > last:
                raise EncodingError("zipmap entry past the end")
            p = s + ln
            if p > last:
                raise EncodingError("zipmap entry past the end")
            out.append(buf[s:p])
            if buf[p] < 254:
                ln = buf[p]
                s = p + 1
            else:
                s = p + 5
                if s > last:
                    raise EncodingError("zipmap entry past the end")
                ln = _U32.unpack_from(buf, p + 1)[0]
            if s > last:
                raise EncodingError("zipmap entry past the end")
            free = buf[s]
            p = s + 1 + ln + free
            if p > last:
                raise EncodingError("zipmap entry past the end")
            out.append(buf[s + 1:s + 1 + ln])
            count += 1
    except (IndexError, struct_error):
        raise EncodingError("zipmap entry past the end") from None
    if count == 0:
        raise EncodingError("zipmap empty")
    if buf[0] != 254 and buf[0] != count:
        raise EncodingError("zipmap count mismatch")
    return out
