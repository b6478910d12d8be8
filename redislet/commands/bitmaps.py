"""Bit operations on strings (bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
BITFIELD, BITFIELD_RO.

Strings are immutable bytes in the keyspace: a write builds the new value and stores it
in place (the TTL stays), marking it 'raw' as Redis's dbUnshareStringValue leaves it.
Counting and searching run in C: int.bit_count over memoryview chunks, regular
expressions for the first byte that is not 0x00 / 0xff.
"""
import re

from ..errors import CommandError, SYNTAX, NOT_INTEGER, WRONGTYPE
from ..resp.encode import ZERO, ONE, NEG_ONE, integer
from ..util import parse_ll, ll_arg as _ll
from . import strings as _strings
from .table import command

NOTIFY_GENERIC = 1 << 2
NOTIFY_STRING = 1 << 3
U64 = (1 << 64) - 1
INT64_MAX = (1 << 63) - 1

BIT_OFFSET_ERR = "ERR bit offset is not an integer or out of range"
BIT_VALUE_ERR = "ERR bit is not an integer or out of range"
BITFIELD_TYPE_ERR = ("ERR Invalid bitfield type. Use something like i16 u8. "
                     "Note that u64 is not supported but i64 is.")

_NOT_ZERO = re.compile(rb"[^\x00]")
_NOT_FF = re.compile(rb"[^\xff]")
_CHUNK = 1 << 20


def _to_i64(v):
    v &= U64
    return v - (1 << 64) if v >> 63 else v


def bit_offset(c, arg, hash_=False, bits=0):
    """getBitOffsetFromArgument: the bit offset (#N form multiplied by bits)."""
    usehash = hash_ and bits > 0 and arg[:1] == b"#"
    off = parse_ll(arg[1:] if usehash else arg)
    if off is None:
        raise CommandError(BIT_OFFSET_ERR)
    if usehash:
        off = _to_i64(off * bits)
    if off < 0 or (not c.must_obey_client()
                   and (off >> 3) >= c.server.config.values["proto-max-bulk-len"]):
        raise CommandError(BIT_OFFSET_ERR)
    return off


def _write_string(c, key, maxbit):
    """lookupStringForBitCommand: (current value padded with zeros so that bit maxbit
    exists, grew_or_created). The caller stores the result."""
    need = (maxbit >> 3) + 1
    v = c.db.lookup(key)
    if v is None:
        return None, need
    if type(v) is not bytes:
        raise CommandError(WRONGTYPE)
    return v, need


def _store(c, key, old, new):
    """Store the modified string value (raw encoding, as after dbUnshareStringValue)."""
    db = c.db
    if old is None:
        db.add(key, new)
    else:
        db.data[key] = new
    _strings.mark_raw(new)


def _read_string(c, key):
    v = c.db.lookup_read(key)
    if v is not None and type(v) is not bytes:
        raise CommandError(WRONGTYPE)
    return v


def popcount(b, start, end):
    """Set bits in b[start:end]."""
    mv = memoryview(b)
    total = 0
    while start < end:
        stop = min(end, start + _CHUNK)
        total += int.from_bytes(mv[start:stop], "big").bit_count()
        start = stop
    return total


def _bitpos_bytes(b, start, count, bit):
    """redisBitpos over b[start:start+count]: first bit equal to `bit`, relative to start;
    -1 when looking for 1 and there is none; count*8 when looking for 0 and every bit
    is set (the string is considered zero padded on the right)."""
    m = (_NOT_ZERO if bit else _NOT_FF).search(b, start, start + count)
    if m is None:
        return -1 if bit else count * 8
    i = m.start()
    byte = b[i]
    if not bit:
        byte ^= 0xFF
    return (i - start) * 8 + 8 - byte.bit_length()


def _one_byte_pos(byte, bit):
    if not bit:
        byte ^= 0xFF
    if byte == 0:
        return -1 if bit else 8
    return 8 - byte.bit_length()


# -- SETBIT / GETBIT ---------------------------------------------------------------------
@command("setbit")
def setbit(c, argv):
    off = bit_offset(c, argv[2])
    on = parse_ll(argv[3])
    if on is None or on & ~1:
        raise CommandError(BIT_VALUE_ERR)
    key = argv[1]
    v, need = _write_string(c, key, off)
    byte = off >> 3
    shift = 7 - (off & 7)
    if v is None:
        grew = True
        bitval = 0
        cur = 0
        n = 0
    else:
        n = len(v)
        grew = n < need
        cur = v[byte] if byte < n else 0
        bitval = (cur >> shift) & 1
    if grew or bitval != on:
        nb = (cur & ~(1 << shift)) | (on << shift)
        if v is None:
            new = bytes(byte) + bytes((nb,))
        elif byte < n:
            new = b"".join((v[:byte], bytes((nb,)), v[byte + 1:]))
        else:
            new = b"".join((v, bytes(byte - n), bytes((nb,))))
        _store(c, key, v, new)
        db = c.db
        srv = db.server
        if v is not None:
            db.touch(key)
        if srv.notify_flags & NOTIFY_STRING:
            srv.notify(NOTIFY_STRING, b"setbit", key, db.id)
        srv.dirty += 1
    elif _strings.string_encoding(v) != b"raw":
        new = bytes(bytearray(v))   # dbUnshareStringValue: a private raw copy
        c.db.data[key] = new
        _strings.mark_raw(new)
    return ONE if bitval else ZERO


@command("getbit")
def getbit(c, argv):
    off = bit_offset(c, argv[2])
    v = _read_string(c, argv[1])
    if v is None:
        return ZERO
    byte = off >> 3
    if byte < len(v) and v[byte] & (1 << (7 - (off & 7))):
        return ONE
    return ZERO


# -- BITCOUNT / BITPOS -------------------------------------------------------------------
def _range_unit(arg):
    a = arg.lower()
    if a == b"bit":
        return True
    if a == b"byte":
        return False
    raise CommandError(SYNTAX)


@command("bitcount")
def bitcount(c, argv):
    v = _read_string(c, argv[1])
    if v is None:
        return ZERO
    argc = len(argv)
    strlen = len(v)
    first_mask = last_mask = 0
    if argc in (4, 5):
        start = _ll(argv[2])
        end = _ll(argv[3])
        if start < 0 and end < 0 and start > end:
            return ZERO
        isbit = _range_unit(argv[4]) if argc == 5 else False
        totlen = strlen << 3 if isbit else strlen
        if start < 0:
            start += totlen
        if end < 0:
            end += totlen
        if start < 0:
            start = 0
        if end < 0:
            end = 0
        if end >= totlen:
            end = totlen - 1
        if isbit and start <= end:
            first_mask = ~((1 << (8 - (start & 7))) - 1) & 0xFF
            last_mask = (1 << (7 - (end & 7))) - 1
            start >>= 3
            end >>= 3
    elif argc == 2:
        start = 0
        end = strlen - 1
    else:
        raise CommandError(SYNTAX)
    if start > end:
        return ZERO
    count = popcount(v, start, end + 1)
    if first_mask:
        count -= (v[start] & first_mask).bit_count()
    if last_mask:
        count -= (v[end] & last_mask).bit_count()
    return integer(count)


@command("bitpos")
def bitpos(c, argv):
    bit = parse_ll(argv[2])
    if bit is None:
        raise CommandError(NOT_INTEGER)
    if bit != 0 and bit != 1:
        raise CommandError("ERR The bit argument must be 1 or 0.")
    v = _read_string(c, argv[1])
    if v is None:
        return NEG_ONE if bit else ZERO
    argc = len(argv)
    strlen = len(v)
    end_given = False
    isbit = False
    first_mask = last_mask = 0
    if 4 <= argc <= 6:
        start = _ll(argv[3])
        if argc == 6:
            isbit = _range_unit(argv[5])
        totlen = strlen
        if argc >= 5:
            end = _ll(argv[4])
            end_given = True
        else:
            end = (totlen << 3) + 7 if isbit else totlen - 1
        if isbit:
            totlen <<= 3
        if start < 0:
            start += totlen
        if end < 0:
            end += totlen
        if start < 0:
            start = 0
        if end < 0:
            end = 0
        if end >= totlen:
            end = totlen - 1
        if isbit and start <= end:
            first_mask = ~((1 << (8 - (start & 7))) - 1) & 0xFF
            last_mask = (1 << (7 - (end & 7))) - 1
            start >>= 3
            end >>= 3
    elif argc == 3:
        start = 0
        end = strlen - 1
    else:
        raise CommandError(SYNTAX)
    if start > end:
        return NEG_ONE
    nbytes = end - start + 1
    pos = None
    if first_mask:
        tmp = v[start] & ~first_mask & 0xFF if bit else v[start] | first_mask
        if last_mask and nbytes == 1:
            tmp = tmp & ~last_mask & 0xFF if bit else tmp | last_mask
        pos = _one_byte_pos(tmp, bit)
        if not (nbytes == 1 or (pos != -1 and pos != 8)):
            start += 1
            nbytes -= 1
            pos = None
    if pos is None:
        cur = nbytes - (1 if last_mask else 0)
        if cur > 0:
            pos = _bitpos_bytes(v, start, cur, bit)
            if not (nbytes == cur or (pos != -1 and pos != cur << 3)):
                start += cur
                nbytes -= cur
                pos = None
        if pos is None:
            tmp = v[end] & ~last_mask & 0xFF if bit else v[end] | last_mask
            pos = _one_byte_pos(tmp, bit)
    if end_given and bit == 0 and pos == nbytes << 3:
        return NEG_ONE
    if pos != -1:
        pos += start << 3
    return integer(pos)


# -- BITOP -------------------------------------------------------------------------------
@command("bitop")
def bitop(c, argv):
    op = argv[1].lower()
    if op not in (b"and", b"or", b"xor", b"not"):
        raise CommandError(SYNTAX)
    if op == b"not" and len(argv) != 4:
        raise CommandError("ERR BITOP NOT must be called with a single source key.")
    db = c.db
    srcs = []
    for key in argv[3:]:
        v = db.lookup_read(key)
        if v is not None and type(v) is not bytes:
            raise CommandError(WRONGTYPE)
        srcs.append(v or b"")
    maxlen = max(len(s) for s in srcs)
    srv = db.server
    target = argv[2]
    if maxlen:
        nbits = maxlen << 3
        if op == b"not":
            s = srcs[0]
            x = int.from_bytes(s, "big") << ((maxlen - len(s)) << 3)
            res = x ^ ((1 << nbits) - 1)
        else:
            vals = [int.from_bytes(s, "big") << ((maxlen - len(s)) << 3) for s in srcs]
            res = vals[0]
            if op == b"and":
                for x in vals[1:]:
                    res &= x
            elif op == b"or":
                for x in vals[1:]:
                    res |= x
            else:
                for x in vals[1:]:
                    res ^= x
        new = res.to_bytes(maxlen, "big")
        _strings._set_key(db, target, new)
        _strings.mark_raw(new)
        if srv.notify_flags & NOTIFY_STRING:
            srv.notify(NOTIFY_STRING, b"set", target, db.id)
        srv.dirty += 1
    elif db.delete(target):
        db.touch(target)
        if srv.notify_flags & NOTIFY_GENERIC:
            srv.notify(NOTIFY_GENERIC, b"del", target, db.id)
        srv.dirty += 1
    return integer(maxlen)


# -- BITFIELD ----------------------------------------------------------------------------
OW_WRAP, OW_SAT, OW_FAIL = 0, 1, 2
OP_GET, OP_SET, OP_INCRBY = 0, 1, 2


def _bitfield_type(arg):
    """getBitfieldTypeFromArgument: (signed, bits)."""
    t = arg[:1]
    if t == b"i":
        sign = True
    elif t == b"u":
        sign = False
    else:
        raise CommandError(BITFIELD_TYPE_ERR)
    rest = arg[1:]
    nul = rest.find(b"\0")   # strlen(p+1)
    if nul >= 0:
        rest = rest[:nul]
    bits = parse_ll(rest)
    if bits is None or bits < 1 or (sign and bits > 64) or (not sign and bits > 63):
        raise CommandError(BITFIELD_TYPE_ERR)
    return sign, bits


def get_field(buf, off, bits):
    """The unsigned `bits`-bit field at bit offset off (bits past the end read as 0)."""
    byte = off >> 3
    chunk = buf[byte:byte + 9]
    val = int.from_bytes(chunk, "big") << ((9 - len(chunk)) << 3)
    return (val >> (72 - (off & 7) - bits)) & ((1 << bits) - 1)


def set_field(buf, off, bits, value):
    """Write the low `bits` bits of value at bit offset off of the bytearray buf (which is
    long enough)."""
    byte = off >> 3
    chunk = buf[byte:byte + 9]
    n = len(chunk)
    shift = (n << 3) - (off & 7) - bits
    mask = ((1 << bits) - 1) << shift
    val = (int.from_bytes(chunk, "big") & ~mask) | ((value << shift) & mask)
    buf[byte:byte + n] = val.to_bytes(n, "big")


def _signed(u, bits):
    if u >> (bits - 1):
        return u - (1 << bits)
    return u


def check_unsigned_overflow(value, incr, bits, owtype):
    """checkUnsignedBitfieldOverflow: (overflow flag, limit). value is uint64, incr int64."""
    mx = (1 << bits) - 1
    maxincr = _to_i64(mx - value)
    minincr = _to_i64(-value)
    if value > mx or (incr > 0 and incr > maxincr):
        ov = 1
    elif incr < 0 and incr < minincr:
        ov = -1
    else:
        return 0, None
    if owtype == OW_WRAP:
        return ov, (value + incr) & mx
    if owtype == OW_SAT:
        return ov, mx if ov > 0 else 0
    return ov, None


def check_signed_overflow(value, incr, bits, owtype):
    """checkSignedBitfieldOverflow with C's int64 wrap-around arithmetic."""
    mx = INT64_MAX if bits == 64 else (1 << (bits - 1)) - 1
    mn = -mx - 1
    maxincr = _to_i64(mx - value)
    minincr = _to_i64(mn - value)
    if value > mx or (bits != 64 and incr > maxincr) or (
            value >= 0 and incr > 0 and incr > maxincr):
        ov = 1
    elif value < mn or (bits != 64 and incr < minincr) or (
            value < 0 and incr < 0 and incr < minincr):
        ov = -1
    else:
        return 0, None
    if owtype == OW_WRAP:
        r = (value + incr) & U64
        if bits < 64:
            r &= (1 << bits) - 1
            if r >> (bits - 1):
                r -= 1 << bits
        else:
            r = _to_i64(r)
        return ov, r
    if owtype == OW_SAT:
        return ov, mx if ov > 0 else mn
    return ov, None


def _bitfield(c, argv, ro):
    ops = []
    owtype = OW_WRAP
    readonly = True
    highest = 0
    argc = len(argv)
    j = 2
    while j < argc:
        rem = argc - j - 1
        sub = argv[j].lower()
        if sub == b"get" and rem >= 2:
            opcode = OP_GET
        elif sub == b"set" and rem >= 3:
            opcode = OP_SET
        elif sub == b"incrby" and rem >= 3:
            opcode = OP_INCRBY
        elif sub == b"overflow" and rem >= 1:
            t = argv[j + 1].lower()
            j += 2
            if t == b"wrap":
                owtype = OW_WRAP
            elif t == b"sat":
                owtype = OW_SAT
            elif t == b"fail":
                owtype = OW_FAIL
            else:
                raise CommandError("ERR Invalid OVERFLOW type specified")
            continue
        else:
            raise CommandError(SYNTAX)
        sign, bits = _bitfield_type(argv[j + 1])
        off = bit_offset(c, argv[j + 2], True, bits)
        i64 = 0
        if opcode != OP_GET:
            readonly = False
            if highest < off + bits - 1:
                highest = off + bits - 1
            i64 = parse_ll(argv[j + 3])
            if i64 is None:
                raise CommandError(NOT_INTEGER)
        ops.append((opcode, off, i64, owtype, bits, sign))
        j += 4 if opcode != OP_GET else 3
    key = argv[1]
    r = c.r
    if readonly:
        v = _read_string(c, key)
        out = [b"*%d\r\n" % len(ops)]
        for _, off, _, _, bits, sign in ops:
            val = get_field(v, off, bits) if v else 0
            if sign:
                val = _signed(val, bits)
            out.append(integer(val))
        return b"".join(out)
    if ro:
        raise CommandError("ERR BITFIELD_RO only supports the GET subcommand")
    v, need = _write_string(c, key, highest)
    if v is None:
        buf = bytearray(need)
        grew = True
    else:
        buf = bytearray(v)
        grew = len(buf) < need
        if grew:
            buf.extend(bytes(need - len(buf)))
    changes = 0
    out = [b"*%d\r\n" % len(ops)]
    for opcode, off, i64, ow, bits, sign in ops:
        if opcode == OP_GET:
            val = get_field(buf, off, bits)
            out.append(integer(_signed(val, bits) if sign else val))
            continue
        old = get_field(buf, off, bits)
        if sign:
            old = _signed(old, bits)
            if opcode == OP_INCRBY:
                ov, lim = check_signed_overflow(old, i64, bits, ow)
                new = lim if ov else old + i64
                ret = new
            else:
                new = i64
                ov, lim = check_signed_overflow(new, 0, bits, ow)
                if ov:
                    new = lim
                ret = old
        else:
            if opcode == OP_INCRBY:
                new = (old + i64) & U64
                ov, lim = check_unsigned_overflow(old, i64, bits, ow)
                if ov:
                    new = lim
                ret = new
            else:
                new = i64 & U64
                ov, lim = check_unsigned_overflow(new, 0, bits, ow)
                if ov:
                    new = lim
                ret = old
        if ov and ow == OW_FAIL:
            out.append(r.null)
            continue
        out.append(integer(_to_i64(ret)))
        set_field(buf, off, bits, new & U64)
        if grew or old != new:
            changes += 1
    db = c.db
    if changes:
        new_v = bytes(buf)
        _store(c, key, v, new_v)
        srv = db.server
        if v is not None:
            db.touch(key)
        if srv.notify_flags & NOTIFY_STRING:
            srv.notify(NOTIFY_STRING, b"setbit", key, db.id)
        srv.dirty += changes
    elif v is None or grew:
        # created or padded but no operation took effect (OVERFLOW FAIL)
        _store(c, key, v, bytes(buf))
    elif _strings.string_encoding(v) != b"raw":
        new_v = bytes(buf)
        db.data[key] = new_v
        _strings.mark_raw(new_v)
    return b"".join(out)


@command("bitfield")
def bitfield(c, argv):
    return _bitfield(c, argv, False)


@command("bitfield_ro")
def bitfield_ro(c, argv):
    return _bitfield(c, argv, True)
