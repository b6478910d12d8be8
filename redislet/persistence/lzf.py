"""LZF (liblzf 3.x format, as Redis's lzf_c.c / lzf_d.c) compression of RDB strings.

Format: a sequence of tokens. A control byte c < 32 starts a literal run of c+1 bytes;
otherwise len = c >> 5 (7 means "add the next byte"), the back reference offset is
((c & 31) << 8 | next byte) + 1 and len + 2 bytes are copied from that far back (copies
may overlap the bytes being produced, like a byte-by-byte memmove).

compress/decompress use python-lzf (optional, `pip install redislet[fast]`) when it is
installed: it wraps liblzf 3.6 built as Redis builds it, so its output is Redis's byte
for byte, and it is some 100x faster than the Python code here, which is the fallback
(compress_py/decompress_py).
"""
try:
    import lzf as _c
except ImportError:     # pragma: no cover - python-lzf is optional
    _c = None


class LZFError(ValueError):
    pass


MAX_LIT = 32
MAX_OFF = 1 << 13
MAX_REF = (1 << 8) + (1 << 3)   # 264
MAX_EXPANSION = 89              # output bytes per input byte at most (a 3-byte token: 264)
_from = int.from_bytes


def decompress(data, out_len):
    """Decompress data (bytes-like) that must expand to exactly out_len bytes."""
    if _c is not None and out_len > 0:
        if out_len > len(data) * MAX_EXPANSION + MAX_REF:
            # more than any LZF stream can expand to: refused before python-lzf mallocs
            # out_len bytes (it does not check for NULL)
            raise LZFError("output length past what the input can hold")
        try:
            # ("s#" takes read-only buffers only)
            out = _c.decompress(data if type(data) is bytes else bytes(data), out_len)
        except ValueError:      # liblzf's EINVAL: a reference or run past the input
            raise LZFError("corrupt LZF data") from None
        if out is None or len(out) != out_len:
            raise LZFError("output length mismatch")
        return out
    return decompress_py(data, out_len)


def decompress_py(data, out_len):
    """decompress in Python."""
    out = bytearray()
    i = 0
    n = len(data)
    olen = 0                # len(out), kept in a local: one token costs a few steps
    while i < n:
        ctrl = data[i]
        if ctrl < 32:
            s = i + 1
            i = s + ctrl + 1
            if i > n:
                raise LZFError("literal run past the end of the input")
            out += data[s:i]
            olen += ctrl + 1
            continue
        i += 1
        ln = ctrl >> 5
        if ln == 7:
            if i >= n:
                raise LZFError("truncated back reference")
            ln += data[i]
            i += 1
        if i >= n:
            raise LZFError("truncated back reference")
        ref = olen - ((ctrl & 0x1f) << 8) - data[i] - 1
        i += 1
        ln += 2
        if ref < 0:
            raise LZFError("back reference before the start of the output")
        if ref + ln <= olen:
            out += out[ref:ref + ln]
        else:
            # the copy overlaps what it produces: a repeated pattern
            pat = out[ref:]
            out += (pat * (ln // len(pat) + 1))[:ln]
        olen += ln
        if olen > out_len:      # (a literal run cannot outgrow its input: checked below)
            raise LZFError("output longer than announced")
    if olen != out_len:
        raise LZFError("output length mismatch")
    return bytes(out)


def compress(data, max_out=None):
    """LZF-compress data; None if the result would be longer than max_out bytes (as
    lzf_compress returning 0 when the output buffer is too small)."""
    if max_out is None:
        max_out = len(data) + len(data) // 16 + 64
    if _c is not None and max_out > 1 and data:
        # python-lzf's buffer is one byte longer than the max_len it is given
        return _c.compress(data if type(data) is bytes else bytes(data), max_out - 1)
    return compress_py(data, max_out)


def compress_py(data, max_out=None):
    """compress in Python. Greedy like lzf's fast mode: the latest earlier position of
    the next 3 bytes, if within 8 KiB."""
    n = len(data)
    if max_out is None:
        max_out = n + n // 16 + 64
    out = bytearray()
    append = out.append
    htab = {}
    get = htab.get
    lit_start = 0
    i = 0
    end = n - 2
    far = -MAX_OFF - 2          # the default position: always too far back
    while i < end:
        key = data[i:i + 3]
        ref = get(key, far)
        htab[key] = i
        off = i - ref - 1
        if off >= MAX_OFF:
            i += 1
            continue
        # the match: 3 bytes known; the next 16 compared as big-endian ints (from_bytes'
        # default order since 3.11): the first differing byte is where their xor's
        # highest bit is; when all 16 agree, the rest of the window the same way, at once
        j = i + 19
        if j <= n:
            x = _from(data[i + 3:j]) ^ _from(data[ref + 3:ref + 19])
            if x:
                ln = 19 - ((x.bit_length() + 7) >> 3)
            else:
                maxlen = n - i
                if maxlen > MAX_REF:
                    maxlen = MAX_REF
                x = _from(data[j:i + maxlen]) ^ _from(data[ref + 19:ref + maxlen])
                ln = maxlen - ((x.bit_length() + 7) >> 3)
        else:
            x = _from(data[i + 3:n]) ^ _from(data[ref + 3:ref + n - i])
            ln = n - i - ((x.bit_length() + 7) >> 3)
        if lit_start < i:
            k = i - lit_start
            while k > MAX_LIT:
                append(31)
                out += data[lit_start:lit_start + MAX_LIT]
                lit_start += MAX_LIT
                k -= MAX_LIT
            append(k - 1)
            out += data[lit_start:i]
        if ln < 9:
            append(((ln - 2) << 5) | (off >> 8))
        else:
            append(0xE0 | (off >> 8))
            append(ln - 9)
        append(off & 0xff)
        i += ln
        if i < end:
            htab[data[i - 1:i + 2]] = i - 1
        lit_start = i
    # out only grows: checking its size once, at the end, answers as checking per token
    if len(out) + (n - lit_start) > max_out:
        return None
    while lit_start < n:
        k = n - lit_start
        if k > MAX_LIT:
            k = MAX_LIT
        append(k - 1)
        out += data[lit_start:lit_start + k]
        lit_start += k
    if len(out) > max_out:
        return None
    return bytes(out)
