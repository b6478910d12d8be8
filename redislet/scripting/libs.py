"""Libraries Redis loads into Lua besides the standard ones.

bit (LuaBitOp 1.0) is implemented here in Python with the C library's exact arithmetic;
cjson, cmsgpack and struct are in lualibs_data.py.
"""
import struct

_pack_d = struct.Struct("<d").pack
_unpack_I = struct.Struct("<I").unpack_from


def make_libs(L, eng):
    from .lualibs_data import make_data_libs
    libs = make_data_libs(L, eng)
    libs[b"bit"] = L.table_from(_bit_lib(eng))
    return libs


# -- bit ------------------------------------------------------------------------------------
def _bit_lib(eng):
    def barg(fname, args, i):
        """barg(): luaL_checknumber, then the low 32 bits of (n + 2^52 + 2^51)."""
        v = args[i] if i < len(args) else None
        n = eng._lnumber(v) if i < len(args) else None
        if n is None:
            eng._raise_where(b"bad argument #%d to '%s' (number expected, got %s)"
                             % (i + 1, fname, eng._typename(args, i)))
        try:
            return _unpack_I(_pack_d(float(n) + 6755399441055744.0))[0]
        except OverflowError:
            return 0

    def ret(b):
        b &= 0xffffffff
        return b - 0x100000000 if b & 0x80000000 else b

    def tobit(*a):
        return ret(barg(b"tobit", a, 0))

    def bnot(*a):
        return ret(~barg(b"bnot", a, 0))

    def band(*a):
        b = barg(b"band", a, 0)
        for i in range(len(a) - 1, 0, -1):
            b &= barg(b"band", a, i)
        return ret(b)

    def bor(*a):
        b = barg(b"bor", a, 0)
        for i in range(len(a) - 1, 0, -1):
            b |= barg(b"bor", a, i)
        return ret(b)

    def bxor(*a):
        b = barg(b"bxor", a, 0)
        for i in range(len(a) - 1, 0, -1):
            b ^= barg(b"bxor", a, i)
        return ret(b)

    def lshift(*a):
        b = barg(b"lshift", a, 0)
        n = barg(b"lshift", a, 1) & 31
        return ret(b << n)

    def rshift(*a):
        b = barg(b"rshift", a, 0)
        n = barg(b"rshift", a, 1) & 31
        return ret(b >> n)

    def arshift(*a):
        b = ret(barg(b"arshift", a, 0))
        n = barg(b"arshift", a, 1) & 31
        return ret(b >> n)

    def rol(*a):
        b = barg(b"rol", a, 0)
        n = barg(b"rol", a, 1) & 31
        return ret((b << n) | (b >> (32 - n)))

    def ror(*a):
        b = barg(b"ror", a, 0)
        n = barg(b"ror", a, 1) & 31
        return ret((b >> n) | (b << (32 - n)))

    def bswap(*a):
        b = barg(b"bswap", a, 0)
        b = ((b >> 24) | ((b >> 8) & 0xff00) | ((b & 0xff00) << 8) | (b << 24)) & 0xffffffff
        return ret(b)

    def tohex(*a):
        b = barg(b"tohex", a, 0)
        n = 8 if len(a) < 2 else ret(barg(b"tohex", a, 1))
        digits = b"0123456789abcdef"
        if n < 0:
            n = -n
            digits = b"0123456789ABCDEF"
        if n > 8:
            n = 8
        out = bytearray(n)
        for i in range(n - 1, -1, -1):
            out[i] = digits[b & 15]
            b >>= 4
        return bytes(out)

    return {b"tobit": tobit, b"bnot": bnot, b"band": band, b"bor": bor, b"bxor": bxor,
            b"lshift": lshift, b"rshift": rshift, b"arshift": arshift, b"rol": rol,
            b"ror": ror, b"bswap": bswap, b"tohex": tohex}
