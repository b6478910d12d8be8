"""HyperLogLog (hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.

HLLs are ordinary strings in the keyspace with Redis's exact byte layout: the 16-byte
"HYLL" header (encoding byte, cached cardinality with its invalidation bit), then either
the dense 6-bit registers (12288 bytes) or the sparse opcodes (ZERO / XZERO / VAL).
Updates follow Redis's algorithms step by step so that the bytes (and so GET, DUMP and
PFCOUNT) are identical for the same inputs.

Speed: a valid sparse HLL is edited as a list of opcodes with their first register
(bisect instead of a linear scan); corrupted ones go through a byte-level port. Dense
registers are unpacked / packed / maxed with bytes.translate and big-integer
arithmetic, which run in C.
"""
import math
import random
import struct
from bisect import bisect_right

from ..errors import CommandError, WRONGTYPE
from ..resp.encode import OK, ZERO, ONE, integer, bulk
from . import strings as _strings
from .table import command

NOTIFY_STRING = 1 << 3

HLL_P = 14
HLL_Q = 64 - HLL_P
HLL_REGISTERS = 1 << HLL_P
HLL_P_MASK = HLL_REGISTERS - 1
HLL_BITS = 6
HLL_REGISTER_MAX = 63
HLL_HDR_SIZE = 16
HLL_DENSE_BYTES = (HLL_REGISTERS * HLL_BITS + 7) // 8   # 12288
HLL_DENSE_SIZE = HLL_HDR_SIZE + HLL_DENSE_BYTES
HLL_DENSE = 0
HLL_SPARSE = 1
HLL_SPARSE_VAL_MAX_VALUE = 32
HLL_SPARSE_VAL_MAX_LEN = 4
HLL_SPARSE_ZERO_MAX_LEN = 64
HLL_SPARSE_XZERO_MAX_LEN = 16384
HLL_ALPHA_INF = 0.721347520444481703680

INVALID_HLL = "INVALIDOBJ Corrupted HLL object detected"
NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."

_M = 0xc6a4a7935bd1e995
_MASK64 = (1 << 64) - 1
_SEED = 0xadc83b19
_XZ = 0x10000   # marker of an XZERO opcode in the opcode lists

# -- hashing -------------------------------------------------------------------------------
_unpack_cache = {}


def murmurhash64a(data, seed=_SEED):
    """MurmurHash64A as Redis computes it (little-endian blocks, endian neutral)."""
    n = len(data)
    m = _M
    h = (seed ^ (n * m)) & _MASK64
    nblocks = n >> 3
    if nblocks:
        fmt = _unpack_cache.get(nblocks)
        if fmt is None:
            fmt = _unpack_cache[nblocks] = struct.Struct("<%dQ" % nblocks).unpack_from
        for k in fmt(data):
            k = (k * m) & _MASK64
            k ^= k >> 47
            h ^= (k * m) & _MASK64
            h = (h * m) & _MASK64
    if n & 7:
        h ^= int.from_bytes(data[nblocks << 3:], "little")
        h = (h * m) & _MASK64
    h ^= h >> 47
    h = (h * m) & _MASK64
    return h ^ (h >> 47)


def pat_len(ele):
    """hllPatLen: (register index, length of the 000..1 pattern)."""
    h = murmurhash64a(ele)
    hh = (h >> HLL_P) | (1 << HLL_Q)
    return h & HLL_P_MASK, (hh & -hh).bit_length()


# -- dense registers -----------------------------------------------------------------------
def _table(fn):
    return bytes(fn(i) & 0xFF for i in range(256))


_T_AND63 = _table(lambda b: b & 63)
_T_SHR6 = _table(lambda b: b >> 6)
_T_LO4_SHL2 = _table(lambda b: (b & 15) << 2)
_T_SHR4 = _table(lambda b: b >> 4)
_T_LO2_SHL4 = _table(lambda b: (b & 3) << 4)
_T_SHR2 = _table(lambda b: b >> 2)
_T_LO2_SHL6 = _table(lambda b: (b & 3) << 6)
_T_LO4_SHL4 = _table(lambda b: (b & 15) << 4)
_T_SHL2 = _table(lambda b: b << 2)
_HIGHS = int.from_bytes(b"\x80" * HLL_REGISTERS, "little")
_ALL = (1 << (8 * HLL_REGISTERS)) - 1


def _or_bytes(a, b):
    n = len(a)
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(n, "little")


def dense_to_raw(regs):
    """The 16384 registers (one byte each) of dense register bytes (12288 bytes)."""
    regs = bytes(regs[:HLL_DENSE_BYTES])
    b0 = regs[0::3]
    b1 = regs[1::3]
    b2 = regs[2::3]
    raw = bytearray(HLL_REGISTERS)
    raw[0::4] = b0.translate(_T_AND63)
    raw[1::4] = _or_bytes(b0.translate(_T_SHR6), b1.translate(_T_LO4_SHL2))
    raw[2::4] = _or_bytes(b1.translate(_T_SHR4), b2.translate(_T_LO2_SHL4))
    raw[3::4] = b2.translate(_T_SHR2)
    return raw


def raw_to_dense(raw):
    """Pack 16384 register values (< 64) into the dense 6-bit layout (12288 bytes)."""
    raw = bytes(raw)
    r0 = raw[0::4]
    r1 = raw[1::4]
    r2 = raw[2::4]
    r3 = raw[3::4]
    out = bytearray(HLL_DENSE_BYTES)
    out[0::3] = _or_bytes(r0, r1.translate(_T_LO2_SHL6))
    out[1::3] = _or_bytes(r1.translate(_T_SHR2), r2.translate(_T_LO4_SHL4))
    out[2::3] = _or_bytes(r2.translate(_T_SHR4), r3.translate(_T_SHL2))
    return out


def raw_max(a, b):
    """Register-wise max of two 16384-byte register arrays (values < 128), SWAR style."""
    A = int.from_bytes(a, "little")
    B = int.from_bytes(b, "little")
    ge = (((A | _HIGHS) - B) & _HIGHS) >> 7   # 1 in the lanes where a >= b
    mask = (ge << 8) - ge
    return bytearray(((A & mask) | (B & ~mask & _ALL)).to_bytes(HLL_REGISTERS, "little"))


def dense_get(regs, index):
    byte = (index * 6) >> 3
    fb = (index * 6) & 7
    return ((regs[byte] >> fb) | (regs[byte + 1] << (8 - fb))) & 63


def dense_set(regs, index, val):
    """HLL_DENSE_SET_REGISTER (regs has one spare byte at the end, like the sds nul)."""
    byte = (index * 6) >> 3
    fb = (index * 6) & 7
    fb8 = 8 - fb
    regs[byte] = (regs[byte] & ~(63 << fb) | (val << fb)) & 0xFF
    regs[byte + 1] = (regs[byte + 1] & ~(63 >> fb8) | (val >> fb8)) & 0xFF


def dense_update(regs, index, count):
    """hllDenseSet: 1 if the register grew."""
    byte = (index * 6) >> 3
    fb = (index * 6) & 7
    b0 = regs[byte]
    b1 = regs[byte + 1]
    fb8 = 8 - fb
    if count > ((b0 >> fb) | (b1 << fb8)) & 63:
        regs[byte] = (b0 & ~(63 << fb) | (count << fb)) & 0xFF
        regs[byte + 1] = (b1 & ~(63 >> fb8) | (count >> fb8)) & 0xFF
        return 1
    return 0


# -- cardinality -------------------------------------------------------------------------
def _sigma(x):
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        zp = z
        z += x * y
        y += y
        if zp == z:
            return z


def _tau(x):
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1 - x
    while True:
        x = math.sqrt(x)
        zp = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if zp == z:
            return z / 3


def count_from_histo(reghisto):
    """hllCount's estimator (Ertl's improved raw estimator), llroundl'ed."""
    m = float(HLL_REGISTERS)
    z = m * _tau((m - reghisto[HLL_Q + 1]) / m)
    for j in range(HLL_Q, 0, -1):
        z += reghisto[j]
        z *= 0.5
    z += m * _sigma(reghisto[0] / m)
    e = HLL_ALPHA_INF * m * m / z
    f = math.floor(e)
    return int(f) + (1 if e - f >= 0.5 else 0)


def raw_histo(raw):
    """Register histogram (values 0..Q+1; larger ones, only in corrupted data, are not
    used by the estimator)."""
    raw = bytes(raw)
    h = [0] * (HLL_Q + 2)
    left = len(raw)
    for v in range(HLL_Q + 2):
        n = raw.count(v)
        h[v] = n
        left -= n
        if not left:
            break
    return h


# -- sparse representation ---------------------------------------------------------------
def _val_op(val, n):
    return ((val - 1) << 2 | (n - 1)) | 0x80


def _zero_op(n):
    """ZERO for runs up to 64 registers, XZERO (two bytes) beyond."""
    return n - 1 if n <= HLL_SPARSE_ZERO_MAX_LEN else _XZ | (n - 1)


def _xzero_bytes(n):
    n -= 1
    return bytes(((n >> 8) | 0x40, n & 0xFF))


def sparse_walk(body):
    """Yield (kind, value, runlen) for the opcodes of sparse bytes (kind 0 ZERO, 1 XZERO,
    2 VAL); a trailing XZERO reads the string's implicit nul as its second byte."""
    p = 0
    end = len(body)
    while p < end:
        b = body[p]
        if b & 0x80:
            yield 2, ((b >> 2) & 0x1f) + 1, (b & 3) + 1
            p += 1
        elif b & 0x40:
            b2 = body[p + 1] if p + 1 < end else 0
            yield 1, 0, (((b & 0x3f) << 8) | b2) + 1
            p += 2
        else:
            yield 0, 0, (b & 0x3f) + 1
            p += 1


def sparse_to_raw(body):
    """Registers of a sparse HLL as hllMerge / hllSparseToDense read them, or None when
    the representation is invalid (a run past the last register, as the CVE-2025-32023
    fix checks, or not covering every register)."""
    raw = bytearray(HLL_REGISTERS)
    idx = 0
    for kind, val, runlen in sparse_walk(body):
        if runlen + idx > HLL_REGISTERS:
            return None
        if kind == 2:
            raw[idx:idx + runlen] = bytes((val,)) * runlen
        idx += runlen
    if idx != HLL_REGISTERS:
        return None
    return raw


def sparse_histo(body):
    """hllSparseRegHisto: (histogram, invalid)."""
    h = [0] * 64
    idx = 0
    for kind, val, runlen in sparse_walk(body):
        if runlen + idx > HLL_REGISTERS:
            return h, True
        idx += runlen
        h[val] += runlen
    return h, idx != HLL_REGISTERS


class HLL:
    """A decoded HLL being modified: header + dense registers, or sparse opcodes (list
    form when valid, raw bytes otherwise)."""
    __slots__ = ("hdr", "regs", "ops", "starts", "size", "body", "max_bytes")

    def __init__(self, value, max_bytes):
        self.max_bytes = max_bytes
        self.hdr = bytearray(value[:HLL_HDR_SIZE])
        self.regs = self.ops = self.starts = self.body = None
        if value[4] == HLL_DENSE:
            regs = bytearray(value[HLL_HDR_SIZE:])
            regs.append(0)
            self.regs = regs
        else:
            self._parse_sparse(value)

    @classmethod
    def new(cls, max_bytes):
        """createHLLObject: sparse, one XZERO covering every register."""
        return cls(b"HYLL\x01\x00\x00\x00" + bytes(8) + _xzero_bytes(HLL_REGISTERS),
                   max_bytes)

    def _parse_sparse(self, value):
        ops = []
        starts = []
        first = 0
        end = len(value)
        p = HLL_HDR_SIZE
        while p < end:
            b = value[p]
            starts.append(first)
            if b & 0x80:
                ops.append(b)
                first += (b & 3) + 1
                p += 1
            elif b & 0x40:
                if p + 1 >= end:
                    first = -1
                    break
                x = ((b & 0x3f) << 8) | value[p + 1]
                ops.append(_XZ | x)
                first += x + 1
                p += 2
            else:
                ops.append(b)
                first += b + 1
                p += 1
        if first == HLL_REGISTERS:
            self.ops = ops
            self.starts = starts
            self.size = end
        else:
            self.body = bytearray(value[HLL_HDR_SIZE:])

    @property
    def dense(self):
        return self.regs is not None

    def invalidate(self):
        self.hdr[15] |= 0x80

    def to_bytes(self):
        if self.regs is not None:
            return bytes(self.hdr) + bytes(memoryview(self.regs)[:HLL_DENSE_BYTES])
        if self.body is not None:
            return bytes(self.hdr) + bytes(self.body)
        out = bytearray(self.hdr)
        for x in self.ops:
            if x >= _XZ:
                x -= _XZ
                out.append((x >> 8) | 0x40)
                out.append(x & 0xFF)
            else:
                out.append(x)
        return bytes(out)

    def sparse_body(self):
        return self.to_bytes()[HLL_HDR_SIZE:]

    def raw(self):
        """The registers, one byte each (None for an invalid sparse HLL)."""
        if self.regs is not None:
            return dense_to_raw(self.regs)
        return sparse_to_raw(self.sparse_body())

    def to_dense(self):
        """hllSparseToDense: False if the sparse representation is invalid."""
        if self.regs is not None:
            return True
        raw = sparse_to_raw(self.sparse_body())
        if raw is None:
            return False
        regs = raw_to_dense(raw)
        regs.append(0)
        self.regs = regs
        self.hdr[4] = HLL_DENSE
        self.ops = self.starts = self.body = None
        return True

    def add(self, index, count):
        """hllAdd for one (register, count): 1 updated, 0 unchanged, -1 corrupted."""
        if self.regs is not None:
            return dense_update(self.regs, index, count)
        if self.ops is not None:
            return self._sparse_set(index, count)
        return self._sparse_set_bytes(index, count)

    def _promote(self, index, count):
        if not self.to_dense():
            return -1
        dense_update(self.regs, index, count)
        return 1

    def _sparse_set(self, index, count):
        """hllSparseSet on the opcode list (valid representations)."""
        if count > HLL_SPARSE_VAL_MAX_VALUE:
            return self._promote(index, count)
        ops = self.ops
        starts = self.starts
        i = bisect_right(starts, index) - 1
        x = ops[i]
        first = starts[i]
        if x >= _XZ:
            runlen = (x & 0x3fff) + 1
            kind = 1
        elif x & 0x80:
            runlen = (x & 3) + 1
            kind = 2
            if ((x >> 2) & 0x1f) + 1 >= count:
                return 0
            if runlen == 1:
                ops[i] = _val_op(count, 1)
                self._merge(i)
                return 1
        else:
            runlen = x + 1
            kind = 0
            if runlen == 1:
                ops[i] = _val_op(count, 1)
                self._merge(i)
                return 1
        last = first + runlen - 1
        seq = []
        seq_starts = []
        seqlen = 0
        if kind != 2:
            if index != first:
                op = _zero_op(index - first)
                seq.append(op)
                seq_starts.append(first)
                seqlen += 2 if op >= _XZ else 1
            seq.append(_val_op(count, 1))
            seq_starts.append(index)
            seqlen += 1
            if index != last:
                op = _zero_op(last - index)
                seq.append(op)
                seq_starts.append(index + 1)
                seqlen += 2 if op >= _XZ else 1
        else:
            curval = ((x >> 2) & 0x1f) + 1
            if index != first:
                seq.append(_val_op(curval, index - first))
                seq_starts.append(first)
            seq.append(_val_op(count, 1))
            seq_starts.append(index)
            if index != last:
                seq.append(_val_op(curval, last - index))
                seq_starts.append(index + 1)
            seqlen = len(seq)
        deltalen = seqlen - (2 if kind == 1 else 1)
        if deltalen > 0 and self.size + deltalen > self.max_bytes:
            return self._promote(index, count)
        ops[i:i + 1] = seq
        starts[i:i + 1] = seq_starts
        self.size += deltalen
        self._merge(i)
        return 1

    def _merge(self, i):
        """Step 4 of hllSparseSet: merge adjacent equal VALs, scanning up to 5 opcodes
        from the one before the change; then invalidate the cached cardinality."""
        ops = self.ops
        starts = self.starts
        p = i - 1 if i > 0 else 0
        scanlen = 5
        while p < len(ops) and scanlen:
            scanlen -= 1
            x = ops[p]
            if x >= _XZ or not x & 0x80:
                p += 1
                continue
            if p + 1 < len(ops):
                y = ops[p + 1]
                if y < _XZ and y & 0x80 and (x >> 2) == (y >> 2):
                    n = (x & 3) + (y & 3) + 2
                    if n <= HLL_SPARSE_VAL_MAX_LEN:
                        ops[p] = _val_op(((x >> 2) & 0x1f) + 1, n)
                        del ops[p + 1]
                        del starts[p + 1]
                        self.size -= 1
                        continue
            p += 1
        self.hdr[15] |= 0x80

    def _sparse_set_bytes(self, index, count):
        """hllSparseSet, byte by byte (representations that are not valid)."""
        if count > HLL_SPARSE_VAL_MAX_VALUE:
            return self._promote(index, count)
        s = self.body
        end = len(s)
        p = 0
        first = 0
        prev = -1
        span = 0
        while p < end:
            b = s[p]
            oplen = 1
            if not b & 0xC0:
                span = (b & 0x3f) + 1
            elif b & 0x80:
                span = (b & 3) + 1
            else:
                span = (((b & 0x3f) << 8) | (s[p + 1] if p + 1 < end else 0)) + 1
                oplen = 2
            if index <= first + span - 1:
                break
            prev = p
            p += oplen
            first += span
        if span == 0 or p >= end:
            return -1
        b = s[p]
        is_xzero = (b & 0xC0) == 0x40
        nxt = p + 2 if is_xzero else p + 1
        if nxt >= end:
            nxt = None
        if not b & 0xC0:
            kind, runlen = 0, (b & 0x3f) + 1
        elif is_xzero:
            kind, runlen = 1, (((b & 0x3f) << 8) | (s[p + 1] if p + 1 < end else 0)) + 1
        else:
            kind, runlen = 2, (b & 3) + 1
        updated = False
        if kind == 2:
            if ((b >> 2) & 0x1f) + 1 >= count:
                return 0
            if runlen == 1:
                s[p] = _val_op(count, 1)
                updated = True
        if kind == 0 and runlen == 1:
            s[p] = _val_op(count, 1)
            updated = True
        if not updated:
            last = first + span - 1
            seq = bytearray()
            if kind != 2:
                if index != first:
                    n = index - first
                    seq += _xzero_bytes(n) if n > HLL_SPARSE_ZERO_MAX_LEN else bytes((n - 1,))
                seq.append(_val_op(count, 1))
                if index != last:
                    n = last - index
                    seq += _xzero_bytes(n) if n > HLL_SPARSE_ZERO_MAX_LEN else bytes((n - 1,))
            else:
                curval = ((b >> 2) & 0x1f) + 1
                if index != first:
                    seq.append(_val_op(curval, index - first))
                seq.append(_val_op(count, 1))
                if index != last:
                    seq.append(_val_op(curval, last - index))
            oldlen = 2 if kind == 1 else 1
            deltalen = len(seq) - oldlen
            if deltalen > 0 and HLL_HDR_SIZE + end + deltalen > self.max_bytes:
                return self._promote(index, count)
            if nxt is not None:
                s[p:nxt] = seq
            else:
                s[p:] = seq
                del s[end + deltalen:]
        # merge adjacent VALs
        p = prev if prev >= 0 else 0
        end = len(s)
        scanlen = 5
        while p < end and scanlen:
            scanlen -= 1
            b = s[p]
            if (b & 0xC0) == 0x40:
                p += 2
                continue
            if not b & 0xC0:
                p += 1
                continue
            if p + 1 < end and s[p + 1] & 0x80:
                b2 = s[p + 1]
                if (b >> 2) == (b2 >> 2):
                    n = (b & 3) + (b2 & 3) + 2
                    if n <= HLL_SPARSE_VAL_MAX_LEN:
                        s[p + 1] = _val_op(((b >> 2) & 0x1f) + 1, n)
                        del s[p]
                        end -= 1
                        continue
            p += 1
        self.hdr[15] |= 0x80
        return 1


# -- helpers -----------------------------------------------------------------------------
def _max_bytes(c):
    return c.server.config.values["hll-sparse-max-bytes"]


def is_hll(v):
    """isHLLObjectOrReply for a string value."""
    n = len(v)
    if n < HLL_HDR_SIZE or v[:4] != b"HYLL" or v[4] > 1:
        return False
    if v[4] == HLL_DENSE and n != HLL_DENSE_SIZE:
        return False
    return True


def _check_hll(v):
    if type(v) is not bytes:
        raise CommandError(WRONGTYPE)
    if not is_hll(v):
        raise CommandError(NOT_HLL)


def _unshare(db, key, v):
    """dbUnshareStringValue: the stored value ends up raw-encoded."""
    if _strings.string_encoding(v) != b"raw":
        v = bytes(bytearray(v))
        db.data[key] = v
        _strings.mark_raw(v)
    return v


def _put(db, key, new):
    db.data[key] = new
    _strings.mark_raw(new)


def value_raw(v):
    """Registers (one byte each) of a valid HLL value, or None when corrupted."""
    if v[4] == HLL_DENSE:
        return dense_to_raw(memoryview(v)[HLL_HDR_SIZE:])
    return sparse_to_raw(memoryview(v)[HLL_HDR_SIZE:])


def value_count(v):
    """hllCount of an HLL value: (cardinality, invalid)."""
    if v[4] == HLL_DENSE:
        return count_from_histo(raw_histo(dense_to_raw(memoryview(v)[HLL_HDR_SIZE:]))), False
    h, invalid = sparse_histo(memoryview(v)[HLL_HDR_SIZE:])
    return count_from_histo(h), invalid


# -- commands ----------------------------------------------------------------------------
@command("pfadd")
def pfadd(c, argv):
    db = c.db
    key = argv[1]
    v = db.lookup(key)
    updated = 0
    if v is None:
        h = HLL.new(_max_bytes(c))
        updated = 1
    else:
        _check_hll(v)
        if len(argv) == 2:
            _unshare(db, key, v)
            return ZERO
        h = HLL(v, _max_bytes(c))
    err = False
    regs = h.regs
    for ele in argv[2:]:
        # hllPatLen inlined: MurmurHash64A, register index, run of zeros
        n = len(ele)
        hv = (_SEED ^ (n * _M)) & _MASK64
        nblocks = n >> 3
        if nblocks:
            fmt = _unpack_cache.get(nblocks)
            if fmt is None:
                fmt = _unpack_cache[nblocks] = struct.Struct("<%dQ" % nblocks).unpack_from
            for k in fmt(ele):
                k = (k * _M) & _MASK64
                k ^= k >> 47
                hv ^= (k * _M) & _MASK64
                hv = (hv * _M) & _MASK64
        if n & 7:
            hv ^= int.from_bytes(ele[nblocks << 3:], "little")
            hv = (hv * _M) & _MASK64
        hv ^= hv >> 47
        hv = (hv * _M) & _MASK64
        hv ^= hv >> 47
        index = hv & HLL_P_MASK
        hh = (hv >> HLL_P) | (1 << HLL_Q)
        count = (hh & -hh).bit_length()
        if regs is not None:
            byte = (index * 6) >> 3
            fb = (index * 6) & 7
            b0 = regs[byte]
            b1 = regs[byte + 1]
            fb8 = 8 - fb
            if count > ((b0 >> fb) | (b1 << fb8)) & 63:
                regs[byte] = (b0 & ~(63 << fb) | (count << fb)) & 0xFF
                regs[byte + 1] = (b1 & ~(63 >> fb8) | (count >> fb8)) & 0xFF
                updated += 1
            continue
        r = h.add(index, count)
        if r == 1:
            updated += 1
            regs = h.regs
        elif r < 0:
            err = True
            break
    if updated:
        h.invalidate()
    new = h.to_bytes()
    srv = db.server
    if v is None:
        db.add(key, new)
        _strings.mark_raw(new)
    else:
        _put(db, key, new)
    if err:
        raise CommandError(INVALID_HLL)
    if updated:
        if v is not None:
            db.touch(key)
        if srv.notify_flags & NOTIFY_STRING:
            srv.notify(NOTIFY_STRING, b"pfadd", key, db.id)
        srv.dirty += updated
        return ONE
    return ZERO


@command("pfcount")
def pfcount(c, argv):
    db = c.db
    if len(argv) > 2:
        acc = None
        for key in argv[1:]:
            v = db.lookup_read(key)
            if v is None:
                continue
            _check_hll(v)
            raw = value_raw(v)
            if raw is None:
                raise CommandError(INVALID_HLL)
            acc = raw if acc is None else raw_max(acc, raw)
        if acc is None:
            return ZERO
        return integer(count_from_histo(raw_histo(acc)))
    key = argv[1]
    v = db.lookup_read(key)
    if v is None:
        return ZERO
    _check_hll(v)
    v = _unshare(db, key, v)
    if not v[15] & 0x80:
        return integer(int.from_bytes(v[8:16], "little"))
    card, invalid = value_count(v)
    if invalid:
        raise CommandError(INVALID_HLL)
    new = v[:8] + (card & _MASK64).to_bytes(8, "little") + v[16:]
    _put(db, key, new)
    db.touch(key)
    srv = db.server
    srv.dirty += 1
    # a read-only command that changed the dataset: propagate it like Redis does
    c.prop_override = [list(argv)]
    return integer(card)


@command("pfmerge")
def pfmerge(c, argv):
    db = c.db
    acc = bytearray(HLL_REGISTERS)
    use_dense = False
    for key in argv[1:]:
        v = db.lookup_read(key)
        if v is None:
            continue
        _check_hll(v)
        if v[4] == HLL_DENSE:
            use_dense = True
        raw = value_raw(v)
        if raw is None:
            raise CommandError(INVALID_HLL)
        acc = raw_max(acc, raw)
    dest = argv[1]
    v = db.lookup(dest)
    h = HLL.new(_max_bytes(c)) if v is None else HLL(v, _max_bytes(c))
    if use_dense and not h.to_dense():
        raise CommandError(INVALID_HLL)
    if h.regs is not None:
        cur = dense_to_raw(h.regs)
        regs = raw_to_dense(raw_max(cur, acc))
        regs.append(0)
        h.regs = regs
    else:
        for j in range(HLL_REGISTERS):
            val = acc[j]
            if val:
                h.add(j, val)
    h.invalidate()
    new = h.to_bytes()
    if v is None:
        db.add(dest, new)
        _strings.mark_raw(new)
    else:
        _put(db, dest, new)
        db.touch(dest)
    srv = db.server
    if srv.notify_flags & NOTIFY_STRING:
        srv.notify(NOTIFY_STRING, b"pfadd", dest, db.id)
    srv.dirty += 1
    return OK


@command("pfdebug")
def pfdebug(c, argv):
    db = c.db
    sub = argv[1]
    key = argv[2]
    v = db.lookup(key)
    if v is None:
        raise CommandError("ERR The specified key does not exist")
    _check_hll(v)
    v = _unshare(db, key, v)
    name = sub.lower()
    if name == b"getreg":
        if v[4] == HLL_SPARSE:
            h = HLL(v, _max_bytes(c))
            if not h.to_dense():
                raise CommandError(INVALID_HLL)
            v = h.to_bytes()
            _put(db, key, v)
            db.server.dirty += 1
        raw = dense_to_raw(memoryview(v)[HLL_HDR_SIZE:])
        return b"*%d\r\n" % HLL_REGISTERS + b"".join([b":%d\r\n" % r for r in raw])
    if name == b"decode":
        if v[4] != HLL_SPARSE:
            raise CommandError("ERR HLL encoding is not sparse")
        parts = []
        for kind, val, runlen in sparse_walk(memoryview(v)[HLL_HDR_SIZE:]):
            if kind == 0:
                parts.append(b"z:%d" % runlen)
            elif kind == 1:
                parts.append(b"Z:%d" % runlen)
            else:
                parts.append(b"v:%d,%d" % (val, runlen))
        return bulk(b" ".join(parts))
    if name == b"encoding":
        return b"+dense\r\n" if v[4] == HLL_DENSE else b"+sparse\r\n"
    if name == b"todense":
        if v[4] == HLL_SPARSE:
            h = HLL(v, _max_bytes(c))
            if not h.to_dense():
                raise CommandError(INVALID_HLL)
            _put(db, key, h.to_bytes())
            db.server.dirty += 1
            return ONE
        return ZERO
    raise CommandError("ERR Unknown PFDEBUG subcommand '%s'"
                       % sub.split(b"\0", 1)[0].decode("utf-8", "surrogateescape"))


# -- PFSELFTEST ----------------------------------------------------------------------------
SELFTEST_REGISTER_CYCLES = 20
SELFTEST_MAX_ELEMENTS = 100000


@command("pfselftest")
def pfselftest(c, argv):
    """The checks of Redis's PFSELFTEST: register access round trips, then dense and
    sparse HLLs fed with the same elements must agree, stay sparse while small, and be
    within 6 standard errors at each power of ten (fewer cycles and elements than the C
    version, which would take minutes in Python)."""
    rnd = random.Random()
    regs = bytearray(HLL_DENSE_BYTES + 1)
    for _ in range(SELFTEST_REGISTER_CYCLES):
        vals = bytes(rnd.getrandbits(6) for _ in range(HLL_REGISTERS))
        for i, r in enumerate(vals):
            dense_set(regs, i, r)
        for i in range(HLL_REGISTERS):
            val = dense_get(regs, i)
            if val != vals[i]:
                raise CommandError("TESTFAILED Register %d should be %d but is %d"
                                   % (i, vals[i], val))
        if dense_to_raw(regs) != vals or raw_to_dense(vals) != regs[:HLL_DENSE_BYTES]:
            raise CommandError("TESTFAILED dense register packing mismatch")
    max_bytes = _max_bytes(c)
    dense = HLL.new(max_bytes)
    dense.to_dense()
    sparse = HLL.new(max_bytes)
    relerr = 1.04 / math.sqrt(HLL_REGISTERS)
    checkpoint = 1
    seed = rnd.getrandbits(64)
    pack = struct.Struct("<Q").pack
    for j in range(1, SELFTEST_MAX_ELEMENTS + 1):
        index, count = pat_len(pack(j ^ seed))
        dense_update(dense.regs, index, count)
        sparse.add(index, count)
        if j == checkpoint:
            if j < max_bytes / 2 and sparse.dense:
                raise CommandError("TESTFAILED sparse encoding not used")
            dcount = count_from_histo(raw_histo(dense.raw()))
            if dcount != count_from_histo(raw_histo(sparse.raw())):
                raise CommandError("TESTFAILED dense/sparse disagree")
            abserr = abs(checkpoint - dcount)
            maxerr = math.ceil(relerr * 6 * checkpoint)
            if j == 10:
                maxerr = 1
            if abserr > maxerr:
                raise CommandError("TESTFAILED Too big error. card:%d abserr:%d"
                                   % (checkpoint, abserr))
            checkpoint *= 10
    return OK
