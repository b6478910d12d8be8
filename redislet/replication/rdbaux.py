"""Read the AUX fields at the head of an RDB stream (repl-stream-db, repl-id,
repl-offset...), without loading it: a replica needs the master's selected db after a
full sync (rdbLoad's rdbSaveInfo)."""
import struct


def _length(f):
    b = f.read(1)
    if not b:
        raise EOFError
    t = b[0] >> 6
    if t == 0:
        return b[0] & 0x3F, False
    if t == 1:
        return ((b[0] & 0x3F) << 8) | f.read(1)[0], False
    if t == 2:
        if b[0] == 0x80:
            return struct.unpack(">I", f.read(4))[0], False
        if b[0] == 0x81:
            return struct.unpack(">Q", f.read(8))[0], False
        raise ValueError("bad length")
    return b[0] & 0x3F, True


def _string(f):
    n, enc = _length(f)
    if not enc:
        return f.read(n)
    if n == 0:
        return str(struct.unpack("<b", f.read(1))[0]).encode()
    if n == 1:
        return str(struct.unpack("<h", f.read(2))[0]).encode()
    if n == 2:
        return str(struct.unpack("<i", f.read(4))[0]).encode()
    if n == 3:
        clen, _e = _length(f)
        ulen, _e = _length(f)
        data = f.read(clen)
        from ..persistence import lzf
        return lzf.decompress(data, ulen)
    raise ValueError("bad string encoding")


def read_aux(path):
    """{name: value} of the leading AUX records of the RDB file at path ({} if unreadable)."""
    out = {}
    try:
        with open(path, "rb") as f:
            if f.read(5) != b"REDIS":
                return out
            f.read(4)
            while True:
                op = f.read(1)
                if op != b"\xfa":
                    break
                key = _string(f)
                out[key.decode("latin-1")] = _string(f)
    except Exception:  # noqa: BLE001 - best effort: the loader reports real errors
        pass
    return out
