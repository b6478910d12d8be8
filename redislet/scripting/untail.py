"""`return redis.call(...)` without the tail call.

redis.call and redis.pcall are Lua functions here (bootstrap.lua: they hand a call with
thousands of arguments to Python as one table, which lupa cannot pass one by one). Lua 5.1
compiles `return f(...)` to OP_TAILCALL, and a tail call of a Lua function replaces the
caller's frame: an error raised inside redis.call would no longer know the script's line,
which Redis (whose redis.call is a C function, whose caller stays on the stack) reports.
So in compiled scripts each `return redis.call(...)` / `return redis.pcall(...)` becomes
OP_CALL (results: all) followed by the OP_RETURN the compiler always emits after it:
the same results, the caller's frame kept. Other tail calls stay tail calls.

patch(dump) works on string.dump's output (Lua 5.1 bytecode of this platform) and returns
the patched bytes, or None when there was nothing to patch (or the format is unexpected).
"""
import struct

OP_GETGLOBAL, OP_GETTABLE, OP_CALL, OP_TAILCALL = 5, 6, 28, 29
# opcodes whose A field names the register they write (the rest read it, or have no A)
_WRITES_A = frozenset((0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                       27, 28, 29, 31, 32, 36, 37))
_HEADER = b"\x1bLua\x51\x00"


class _Reader:
    def __init__(self, data, int_size, size_t, little):
        self.d = data
        self.p = 0
        e = "<" if little else ">"
        self.int_fmt = e + ("i" if int_size == 4 else "q")
        self.int_size = int_size
        self.size_fmt = e + ("I" if size_t == 4 else "Q")
        self.size_t = size_t
        self.ins_fmt = e + "I"

    def int(self):
        v = struct.unpack_from(self.int_fmt, self.d, self.p)[0]
        self.p += self.int_size
        return v

    def string(self):
        n = struct.unpack_from(self.size_fmt, self.d, self.p)[0]
        self.p += self.size_t
        s = self.d[self.p:self.p + n - 1] if n else None   # without the trailing NUL
        self.p += n
        return s

    def byte(self):
        v = self.d[self.p]
        self.p += 1
        return v


def _function(r, out, num_size):
    """Read one function prototype; patch its code in out (a bytearray). True if patched."""
    r.string()                        # source
    r.int()                           # linedefined
    r.int()                           # lastlinedefined
    r.p += 4                          # nups, numparams, is_vararg, maxstacksize
    ncode = r.int()
    code_at = r.p
    code = [struct.unpack_from(r.ins_fmt, r.d, code_at + 4 * i)[0] for i in range(ncode)]
    r.p += 4 * ncode
    consts = []
    for _ in range(r.int()):
        t = r.byte()
        if t == 0:                    # nil
            consts.append(None)
        elif t == 1:                  # boolean
            r.p += 1
            consts.append(None)
        elif t == 3:                  # number
            r.p += num_size
            consts.append(None)
        elif t == 4:
            consts.append(r.string())
        else:
            raise ValueError("constant type %d" % t)
    changed = False
    for pc, ins in enumerate(code):
        if ins & 0x3F == OP_TAILCALL and _calls_redis(code, consts, pc, (ins >> 6) & 0xFF):
            struct.pack_into(r.ins_fmt, out, code_at + 4 * pc, (ins & ~0x3F) | OP_CALL)
            changed = True
    for _ in range(r.int()):          # nested prototypes
        changed |= _function(r, out, num_size)
    n = r.int()                       # lineinfo
    r.p += r.int_size * n
    for _ in range(r.int()):          # locvars
        r.string()
        r.p += 2 * r.int_size
    for _ in range(r.int()):          # upvalue names
        r.string()
    return changed


def _calls_redis(code, consts, pc, a):
    """Is R(a) of the tail call at pc `redis.call` or `redis.pcall` fetched from the global
    `redis` (GETGLOBAL a 'redis'; GETTABLE a a K('call'|'pcall'))?"""
    for i in range(pc - 1, 0, -1):
        ins = code[i]
        op = ins & 0x3F
        if op in _WRITES_A and (ins >> 6) & 0xFF == a:
            if op != OP_GETTABLE or (ins >> 23) != a:
                return False
            c = (ins >> 14) & 0x1FF
            if c < 256 or consts[c - 256] not in (b"call", b"pcall"):
                return False
            prev = code[i - 1]
            return (prev & 0x3F == OP_GETGLOBAL and (prev >> 6) & 0xFF == a
                    and consts[prev >> 14] == b"redis")
    return False


def patch(dump):
    """The bytecode with redis.call/pcall tail calls made plain calls, or None."""
    try:
        if dump[:6] != _HEADER or len(dump) < 12:
            return None
        little, int_size, size_t, ins_size, num_size, integral = dump[6:12]
        if ins_size != 4 or int_size not in (4, 8) or size_t not in (4, 8):
            return None
        out = bytearray(dump)
        r = _Reader(bytes(dump), int_size, size_t, bool(little))
        r.p = 12
        if not _function(r, out, num_size):
            return None
        return bytes(out)
    except (ValueError, IndexError, struct.error):
        return None
