"""cjson, cmsgpack and struct: the data libraries Redis 7.0 loads into its Lua sandbox
(deps/lua/src/lua_cjson.c, lua_cmsgpack.c, lua_struct.c), implemented in Python with the C
libraries' exact output bytes, number conversions and error texts.

Lua values reach Python through lupa: nil -> None, booleans -> bool, numbers -> int
(integral) or float, strings -> bytes, anything else -> a lupa object (lua_type tells).
"""
import math
import re
import struct as _st
import sys

from lupa import lua51 as _lua

from .engine import LuaRaise

_lua_type = _lua.lua_type

if sys.getrecursionlimit() < 12000:
    # nesting limits of 1000 (cjson) need about two Python frames per level
    sys.setrecursionlimit(12000)

_pack_f = _st.Struct(">f").pack
_unpack_f = _st.Struct(">f").unpack
_pack_d = _st.Struct(">d").pack
_unpack_d = _st.Struct(">d").unpack
_TWO63 = 9223372036854775808.0
_INT64_MIN = -(1 << 63)


def _num_to_i64(n):
    """(int64_t) of a double on x86-64: truncation; NaN/out of range -> INT64_MIN."""
    if type(n) is int:
        if -(1 << 63) <= n < (1 << 63):
            return n
        return _INT64_MIN
    if n != n or n >= _TWO63 or n < -_TWO63:
        return _INT64_MIN
    return int(n)


def _num_to_u64(n):
    """(uint64_t) of a non-negative double as gcc compiles it on x86-64."""
    if n < _TWO63:
        return _num_to_i64(n) & 0xffffffffffffffff
    if n != n:
        return 1 << 63
    # cvttsd2si(n - 2^63) ^ 2^63
    return (_num_to_i64(float(n) - _TWO63) ^ (1 << 63)) & 0xffffffffffffffff


def _lua_num(v):
    """A Python number as a Lua number (lupa refuses ints beyond a C long)."""
    if type(v) is int and not (-(1 << 62) <= v < (1 << 62)):
        return float(v)
    return v


def _wrap32(n):
    """(int) of a long long: the low 32 bits, signed."""
    n &= 0xffffffff
    return n - 0x100000000 if n & 0x80000000 else n


def _c_int32(n):
    """(int) of a double on x86: truncation, INT_MIN when out of range or NaN."""
    if n != n or n >= 2147483648.0 or n < -2147483648.0:
        return -2147483648
    return int(n)


class _Ctx:
    """Shared helpers bound to one interpreter."""

    def __init__(self, L, eng):
        self.L = L
        self.eng = eng
        self.table_from = L.table_from
        self.rawequal = L.eval("rawequal")
        self._mkarray = L.eval("function(a, n) local t = {} for i = 1, n do t[i] = a[i] end "
                               "return t end")
        self._mkmap = L.eval("function(a, n) local t = {} for i = 1, n, 2 do "
                             "t[a[i]] = a[i + 1] end return t end")
        null = L.eval("newproxy(true)")
        L.eval("function(u) getmetatable(u).__tostring = function() "
               "return 'userdata: (nil)' end end")(null)
        self.null = null

    def lib(self, fields):
        """A library table. Its functions are Python callables (type() says 'userdata'):
        a Lua wrapper would lose the script's frame on tail calls (error positions)."""
        return self.table_from(fields)

    def mkarray(self, items):
        """A table filled as the C code does (t[1], t[2], ... in order)."""
        if not items:
            return self.table_from(())
        return self._mkarray(self.table_from(items), len(items))

    def mkmap(self, flat):
        """A table from [k1, v1, k2, v2, ...], keys set in order as the C code does."""
        if not flat:
            return self.table_from(())
        return self._mkmap(self.table_from(flat), len(flat))

    def err(self, msg):
        """luaL_error: message prefixed with the calling script position."""
        raise LuaRaise(self.eng.api.where_c() + msg)

    def argerr(self, narg, fname, msg):
        raise LuaRaise(self.eng.api.where_c()
                       + b"bad argument #%d to '%s' (%s)" % (narg, fname, msg))

    def typename(self, args, i):
        return self.eng._typename(args, i)

    def checknumber(self, fname, args, i):
        v = args[i] if i < len(args) else None
        n = self.eng._lnumber(v) if i < len(args) else None
        if n is None:
            self.argerr(i + 1, fname, b"number expected, got %s" % self.typename(args, i))
        return n

    def checkinteger(self, fname, args, i):
        """luaL_checkinteger: (ptrdiff_t) truncation of the number."""
        return _num_to_i64(self.checknumber(fname, args, i))

    def optinteger(self, fname, args, i, default):
        if i >= len(args) or args[i] is None:
            return default
        return self.checkinteger(fname, args, i)

    def checkstring(self, fname, args, i):
        v = args[i] if i < len(args) else None
        tv = type(v)
        if tv is bytes:
            return v
        if tv is int or tv is float:
            return b"%.14g" % v
        self.argerr(i + 1, fname, b"string expected, got %s" % self.typename(args, i))


def _ltypename(ctx, v):
    """Lua type name of a lupa object (lupa wraps an unstarted coroutine as a function)."""
    if type(v).__name__ in ("_LuaThread", "_LuaCoroutineFunction"):
        return b"thread"
    return ctx.eng._ltype(v)


def make_data_libs(L, eng):
    ctx = _Ctx(L, eng)
    return {b"cjson": _cjson_new(ctx), b"cmsgpack": _cmsgpack_lib(ctx),
            b"struct": _struct_lib(ctx)}


# =========================================================================================
# cjson
# =========================================================================================
_ESC = {i: b"\\u%04x" % i for i in range(32)}
_ESC.update({8: b"\\b", 9: b"\\t", 10: b"\\n", 12: b"\\f", 13: b"\\r", 34: b'\\"',
             47: b"\\/", 92: b"\\\\", 127: b"\\u007f"})
_ESC_RE = re.compile(rb'[\x00-\x1f"/\\\x7f]')


def _esc_sub(m):
    return _ESC[m.group()[0]]


def _json_string(s):
    if _ESC_RE.search(s) is None:
        return b'"' + s + b'"'
    return b'"' + _ESC_RE.sub(_esc_sub, s) + b'"'


_WS = frozenset(b" \t\n\r")
_DEC_RE = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX_RE = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)"
                     rb"(?:[pP][+-]?[0-9]+)?")
_INF_RE = re.compile(rb"[+-]?(?:infinity|inf)", re.I)
_NAN_RE = re.compile(rb"[+-]?nan(?:\([0-9A-Za-z_]*\))?", re.I)


def _strtod(data, pos):
    """glibc strtod at data[pos:] -> (value, end) with end == pos when nothing parses."""
    m = _HEX_RE.match(data, pos)
    if m is not None:
        t = m.group()
        neg = t[:1] == b"-"
        if t[:1] in b"+-":
            t = t[1:]
        body = t[2:].decode()
        if "p" not in body.lower():
            body += "p0"
        try:
            v = float.fromhex("0x" + body)
        except OverflowError:
            v = math.inf
        return (-v if neg else v), m.end()
    m = _DEC_RE.match(data, pos)
    if m is not None:
        return float(m.group()), m.end()
    m = _INF_RE.match(data, pos)
    if m is not None:
        return (-math.inf if m.group()[:1] == b"-" else math.inf), m.end()
    m = _NAN_RE.match(data, pos)
    if m is not None:
        return (-math.nan if m.group()[:1] == b"-" else math.nan), m.end()
    return 0.0, pos


def _is_invalid_number(data, p):
    """json_is_invalid_number()."""
    n = len(data)
    c = data[p] if p < n else 0
    if c == 43:           # '+'
        return True
    if c == 45:           # '-'
        p += 1
        c = data[p] if p < n else 0
    if c == 48:           # '0'
        c2 = data[p + 1] if p + 1 < n else 0
        return (c2 | 0x20) == 120 or 48 <= c2 <= 57
    if c <= 57:
        return False
    low = data[p:p + 3].lower()
    return low == b"inf" or low == b"nan"


class _JsonError(Exception):
    pass


# token types (names as json_token_type_name)
T_OBJ_BEGIN, T_OBJ_END, T_ARR_BEGIN, T_ARR_END, T_STRING, T_NUMBER, T_BOOLEAN, T_NULL, \
    T_COLON, T_COMMA, T_END, T_WHITESPACE, T_ERROR, T_UNKNOWN = range(14)
_TOKEN_NAMES = [b"T_OBJ_BEGIN", b"T_OBJ_END", b"T_ARR_BEGIN", b"T_ARR_END", b"T_STRING",
                b"T_NUMBER", b"T_BOOLEAN", b"T_NULL", b"T_COLON", b"T_COMMA", b"T_END",
                b"T_WHITESPACE", b"T_ERROR", b"T_UNKNOWN"]
_SIMPLE = {ord("{"): T_OBJ_BEGIN, ord("}"): T_OBJ_END, ord("["): T_ARR_BEGIN,
           ord("]"): T_ARR_END, ord(","): T_COMMA, ord(":"): T_COLON}
_UNKNOWN = frozenset(b'fiInNt"+-0123456789')
_ESC2CHAR = {ord('"'): b'"', ord("\\"): b"\\", ord("/"): b"/", ord("b"): b"\b",
             ord("t"): b"\t", ord("n"): b"\n", ord("f"): b"\f", ord("r"): b"\r"}
_STR_PLAIN = re.compile(rb'[^"\\]*')


def _hex4(data, p):
    h = data[p:p + 4]
    if len(h) != 4:
        return -1
    v = 0
    for c in h:
        if 48 <= c <= 57:
            d = c - 48
        else:
            c |= 0x20
            if 97 <= c <= 102:
                d = c - 87
            else:
                return -1
        v = (v << 4) | d
    return v


def _utf8(cp):
    if cp <= 0x7f:
        return bytes((cp,))
    if cp <= 0x7ff:
        return bytes(((cp >> 6) | 0xc0, (cp & 0x3f) | 0x80))
    if cp <= 0xffff:
        return bytes(((cp >> 12) | 0xe0, ((cp >> 6) & 0x3f) | 0x80, (cp & 0x3f) | 0x80))
    return bytes(((cp >> 18) | 0xf0, ((cp >> 12) & 0x3f) | 0x80, ((cp >> 6) & 0x3f) | 0x80,
                  (cp & 0x3f) | 0x80))


class _JsonParser:
    __slots__ = ("data", "n", "pos", "cfg", "depth", "ctx", "tok", "tidx", "tval")

    def __init__(self, ctx, cfg, data):
        self.ctx = ctx
        self.cfg = cfg
        self.data = data
        self.n = len(data)
        self.pos = 0
        self.depth = 0

    def _tok_error(self, msg):
        self.tok = T_ERROR
        self.tidx = self.pos
        self.tval = msg

    def next_token(self):
        data = self.data
        n = self.n
        p = self.pos
        while p < n and data[p] in _WS:
            p += 1
        self.pos = p
        self.tidx = p
        if p >= n:
            self.tok = T_END
            return
        ch = data[p]
        t = _SIMPLE.get(ch)
        if t is not None:
            self.tok = t
            self.pos = p + 1
            return
        if ch not in _UNKNOWN:
            self._tok_error(b"invalid token")
            return
        if ch == 34:
            self._string()
            return
        if ch == 45 or 48 <= ch <= 57:
            if not self.cfg.decode_invalid_numbers and _is_invalid_number(data, p):
                self._tok_error(b"invalid number")
                return
            self._number()
            return
        if data.startswith(b"true", p):
            self.tok, self.tval, self.pos = T_BOOLEAN, True, p + 4
            return
        if data.startswith(b"false", p):
            self.tok, self.tval, self.pos = T_BOOLEAN, False, p + 5
            return
        if data.startswith(b"null", p):
            self.tok, self.pos = T_NULL, p + 4
            return
        if self.cfg.decode_invalid_numbers and _is_invalid_number(data, p):
            self._number()
            return
        self._tok_error(b"invalid token")

    def _number(self):
        v, end = _strtod(self.data, self.pos)
        if end == self.pos:
            self._tok_error(b"invalid number")
            return
        self.tok = T_NUMBER
        self.tval = v
        self.pos = end

    def _string(self):
        data = self.data
        n = self.n
        p = self.pos + 1
        out = []
        while True:
            m = _STR_PLAIN.match(data, p)
            e = m.end()
            if e > p:
                out.append(data[p:e])
                p = e
            if p >= n:
                self.pos = p
                self._tok_error(b"unexpected end of string")
                return
            if data[p] == 34:
                break
            # backslash
            c = data[p + 1] if p + 1 < n else 0
            if c == 117:        # 'u'
                cp = _hex4(data, p + 2)
                esc_len = 6
                ok = cp >= 0
                if ok and (cp & 0xf800) == 0xd800:
                    if cp & 0x400 or data[p + 6:p + 8] != b"\\u":
                        ok = False
                    else:
                        lo = _hex4(data, p + 8)
                        if lo < 0 or (lo & 0xfc00) != 0xdc00:
                            ok = False
                        else:
                            cp = (((cp & 0x3ff) << 10) | (lo & 0x3ff)) + 0x10000
                            esc_len = 12
                if not ok:
                    self.pos = p
                    self._tok_error(b"invalid unicode escape code")
                    return
                out.append(_utf8(cp))
                p += esc_len
                continue
            r = _ESC2CHAR.get(c)
            if r is None:
                self.pos = p
                self._tok_error(b"invalid escape code")
                return
            out.append(r)
            p += 2
        self.pos = p + 1
        self.tok = T_STRING
        self.tval = b"".join(out)

    def throw(self, expected):
        found = self.tval if self.tok == T_ERROR else _TOKEN_NAMES[self.tok]
        raise _JsonError(b"Expected %s but found %s at character %d"
                         % (expected, found, self.tidx + 1))

    def descend(self):
        self.depth += 1
        if self.depth > self.cfg.decode_max_depth:
            raise _JsonError(b"Found too many nested data structures (%d) at character %d"
                             % (self.depth, self.pos))

    def value(self):
        t = self.tok
        if t == T_STRING or t == T_BOOLEAN:
            return self.tval
        if t == T_NUMBER:
            return self.tval
        if t == T_NULL:
            return self.ctx.null
        if t == T_OBJ_BEGIN:
            return self._object()
        if t == T_ARR_BEGIN:
            return self._array()
        self.throw(b"value")

    def _object(self):
        self.descend()
        d = []
        self.next_token()
        if self.tok == T_OBJ_END:
            self.depth -= 1
            return self.ctx.table_from(())
        while True:
            if self.tok != T_STRING:
                self.throw(b"object key string")
            key = self.tval
            self.next_token()
            if self.tok != T_COLON:
                self.throw(b"colon")
            self.next_token()
            d.append(key)
            d.append(self.value())
            self.next_token()
            if self.tok == T_OBJ_END:
                self.depth -= 1
                return self.ctx.mkmap(d)
            if self.tok != T_COMMA:
                self.throw(b"comma or object end")
            self.next_token()

    def _array(self):
        self.descend()
        items = []
        self.next_token()
        if self.tok == T_ARR_END:
            self.depth -= 1
            return self.ctx.table_from(())
        while True:
            items.append(self.value())
            self.next_token()
            if self.tok == T_ARR_END:
                self.depth -= 1
                return self.ctx.mkarray(items)
            if self.tok != T_COMMA:
                self.throw(b"comma or array end")
            self.next_token()


class _JsonConfig:
    __slots__ = ("sparse_convert", "sparse_ratio", "sparse_safe", "encode_max_depth",
                 "decode_max_depth", "encode_invalid_numbers", "decode_invalid_numbers",
                 "encode_keep_buffer", "precision")

    def __init__(self):
        self.sparse_convert = 0
        self.sparse_ratio = 2
        self.sparse_safe = 10
        self.encode_max_depth = 1000
        self.decode_max_depth = 1000
        self.encode_invalid_numbers = 0
        self.decode_invalid_numbers = 1
        self.encode_keep_buffer = 1
        self.precision = 14


_BOOL_OPTS = (b"off", b"on")
_INVALID_OPTS = (b"off", b"on", b"null")


def _cjson_new(ctx):
    cfg = _JsonConfig()
    null = ctx.null
    rawequal = ctx.rawequal

    def arg_init(fname, args, n):
        if len(args) > n:
            ctx.argerr(n + 1, fname, b"found too many arguments")
        return args + (None,) * (n - len(args))

    def int_option(fname, args, i, attr, lo, hi):
        if args[i] is not None:
            v = ctx.checkinteger(fname, args, i)
            v = _wrap32(v)
            if not (lo <= v <= hi):
                ctx.argerr(1, fname, b"expected integer between %d and %d" % (lo, hi))
            setattr(cfg, attr, v)
        return getattr(cfg, attr)

    def enum_option(fname, args, i, attr, options):
        v = args[i]
        if v is not None:
            if type(v) is bool:
                setattr(cfg, attr, 1 if v else 0)
            else:
                s = ctx.checkstring(fname, args, i)
                try:
                    setattr(cfg, attr, options.index(s))
                except ValueError:
                    ctx.argerr(i + 1, fname, b"invalid option '%s'" % s)
        cur = getattr(cfg, attr)
        if cur == 0 or cur == 1:
            return bool(cur)
        return options[cur]

    def encode_sparse_array(*args):
        args = arg_init(b"encode_sparse_array", args, 3)
        a = enum_option(b"encode_sparse_array", args, 0, "sparse_convert", _BOOL_OPTS)
        b = int_option(b"encode_sparse_array", args, 1, "sparse_ratio", 0, 2147483647)
        c = int_option(b"encode_sparse_array", args, 2, "sparse_safe", 0, 2147483647)
        return a, b, c

    def encode_max_depth(*args):
        args = arg_init(b"encode_max_depth", args, 1)
        return int_option(b"encode_max_depth", args, 0, "encode_max_depth", 1, 2147483647)

    def decode_max_depth(*args):
        args = arg_init(b"decode_max_depth", args, 1)
        return int_option(b"decode_max_depth", args, 0, "decode_max_depth", 1, 2147483647)

    def encode_number_precision(*args):
        args = arg_init(b"encode_number_precision", args, 1)
        return int_option(b"encode_number_precision", args, 0, "precision", 1, 14)

    def encode_keep_buffer(*args):
        args = arg_init(b"encode_keep_buffer", args, 1)
        return enum_option(b"encode_keep_buffer", args, 0, "encode_keep_buffer", _BOOL_OPTS)

    def encode_invalid_numbers(*args):
        args = arg_init(b"encode_invalid_numbers", args, 1)
        return enum_option(b"encode_invalid_numbers", args, 0, "encode_invalid_numbers",
                           _INVALID_OPTS)

    def decode_invalid_numbers(*args):
        args = arg_init(b"decode_invalid_numbers", args, 1)
        return enum_option(b"decode_invalid_numbers", args, 0, "decode_invalid_numbers",
                           _BOOL_OPTS)

    def fmt_number(num, what):
        mode = cfg.encode_invalid_numbers
        if type(num) is float and (num != num or num in (math.inf, -math.inf)):
            if mode == 0:
                raise _JsonError(b"Cannot serialise %s: must not be NaN or Inf" % what)
            if mode == 1:
                if num != num:
                    return b"nan"
                return b"inf" if num > 0 else b"-inf"
            return b"null"
        return b"%.*g" % (cfg.precision, num)

    def encode_value(v, depth, out):
        tv = type(v)
        if tv is bytes:
            out.append(_json_string(v))
        elif tv is int or tv is float:
            out.append(fmt_number(v, b"number"))
        elif tv is bool:
            out.append(b"true" if v else b"false")
        elif v is None:
            out.append(b"null")
        else:
            lt = _lua_type(v)
            if lt == "table":
                encode_table(v, depth + 1, out)
            elif lt == "userdata" and rawequal(v, null):
                out.append(b"null")
            else:
                lt = _ltypename(ctx, v)
                raise _JsonError(b"Cannot serialise %s: type not supported" % lt)

    def encode_table(t, depth, out):
        if depth > cfg.encode_max_depth:
            raise _JsonError(b"Cannot serialise, excessive nesting (%d)" % depth)
        items = list(t.items())
        mx = 0
        count = 0
        is_array = True
        for k, _v in items:
            tk = type(k)
            if tk is int and k >= 1 or (tk is float and k >= 1 and (
                    k == math.inf or math.floor(k) == k)):
                if k > mx:
                    mx = _c_int32(k)
                count += 1
                continue
            is_array = False
            break
        if is_array:
            ratio = cfg.sparse_ratio
            if ratio > 0 and mx > count * ratio and mx > cfg.sparse_safe:
                if not cfg.sparse_convert:
                    raise _JsonError(b"Cannot serialise table: excessively sparse array")
                is_array = False
        if is_array and mx > 0:
            vals = dict(items)
            out.append(b"[")
            get = vals.get
            for i in range(1, mx + 1):
                if i > 1:
                    out.append(b",")
                encode_value(get(i), depth, out)
            out.append(b"]")
            return
        out.append(b"{")
        first = True
        for k, v in items:
            if first:
                first = False
            else:
                out.append(b",")
            tk = type(k)
            if tk is bytes:
                out.append(_json_string(k))
                out.append(b":")
            elif tk is int or tk is float:
                out.append(b'"')
                out.append(fmt_number(k, b"number"))
                out.append(b'":')
            else:
                name = b"boolean" if tk is bool else _ltypename(ctx, k)
                raise _JsonError(b"Cannot serialise %s: table key must be a number or string"
                                 % name)
            encode_value(v, depth, out)
        out.append(b"}")

    def encode(*args):
        if len(args) != 1:
            ctx.argerr(1, b"encode", b"expected 1 argument")
        out = []
        try:
            encode_value(args[0], 0, out)
        except _JsonError as e:
            ctx.err(e.args[0])
        return b"".join(out)

    def decode(*args):
        if len(args) != 1:
            ctx.argerr(1, b"decode", b"expected 1 argument")
        data = ctx.checkstring(b"decode", args, 0)
        if len(data) >= 2 and (data[0] == 0 or data[1] == 0):
            ctx.err(b"JSON parser does not support UTF-16 or UTF-32")
        z = data.find(b"\0")
        if z >= 0:
            data = data[:z]
        p = _JsonParser(ctx, cfg, data)
        try:
            p.next_token()
            v = p.value()
            p.next_token()
            if p.tok != T_END:
                p.throw(b"the end")
        except _JsonError as e:
            ctx.err(e.args[0])
        return _lua_num(v)

    def new(*args):
        return _cjson_new(ctx)

    return ctx.lib({
        b"encode": encode, b"decode": decode,
        b"encode_sparse_array": encode_sparse_array,
        b"encode_max_depth": encode_max_depth, b"decode_max_depth": decode_max_depth,
        b"encode_number_precision": encode_number_precision,
        b"encode_keep_buffer": encode_keep_buffer,
        b"encode_invalid_numbers": encode_invalid_numbers,
        b"decode_invalid_numbers": decode_invalid_numbers,
        b"new": new, b"null": null, b"_NAME": b"cjson", b"_VERSION": b"2.1.0"})


# =========================================================================================
# cmsgpack
# =========================================================================================
_MAX_NESTING = 16


class _MpError(Exception):
    pass


def _mp_int(n, out):
    if n >= 0:
        if n <= 127:
            out.append(bytes((n,)))
        elif n <= 0xff:
            out.append(b"\xcc" + bytes((n,)))
        elif n <= 0xffff:
            out.append(b"\xcd" + n.to_bytes(2, "big"))
        elif n <= 0xffffffff:
            out.append(b"\xce" + n.to_bytes(4, "big"))
        else:
            out.append(b"\xcf" + n.to_bytes(8, "big"))
    else:
        if n >= -32:
            out.append(bytes((n & 0xff,)))
        elif n >= -128:
            out.append(b"\xd0" + bytes((n & 0xff,)))
        elif n >= -32768:
            out.append(b"\xd1" + (n & 0xffff).to_bytes(2, "big"))
        elif n >= -2147483648:
            out.append(b"\xd2" + (n & 0xffffffff).to_bytes(4, "big"))
        else:
            out.append(b"\xd3" + (n & 0xffffffffffffffff).to_bytes(8, "big"))


def _mp_number(n, out):
    if type(n) is int:
        if -(1 << 63) <= n < (1 << 63):
            _mp_int(n, out)
            return
        n = float(n)
    if n == n and n not in (math.inf, -math.inf) and -_TWO63 <= n < _TWO63 \
            and int(n) == n:
        _mp_int(int(n), out)
        return
    try:
        f = _pack_f(n)
        if _unpack_f(f)[0] == n:
            out.append(b"\xca" + f)
            return
    except OverflowError:
        pass
    out.append(b"\xcb" + _pack_d(n))


def _mp_len_hdr(n, fix, b16, b32, out):
    if n <= 15:
        out.append(bytes((fix | n,)))
    elif n <= 0xffff:
        out.append(b16 + n.to_bytes(2, "big"))
    else:
        out.append(b32 + (n & 0xffffffff).to_bytes(4, "big"))


def _mp_encode(v, level, out):
    tv = type(v)
    if tv is bytes:
        n = len(v)
        if n < 32:
            out.append(bytes((0xa0 | n,)))
        elif n <= 0xff:
            out.append(b"\xd9" + bytes((n,)))
        elif n <= 0xffff:
            out.append(b"\xda" + n.to_bytes(2, "big"))
        else:
            out.append(b"\xdb" + (n & 0xffffffff).to_bytes(4, "big"))
        out.append(v)
    elif tv is bool:
        out.append(b"\xc3" if v else b"\xc2")
    elif tv is int or tv is float:
        _mp_number(v, out)
    elif v is not None and level < _MAX_NESTING and _lua_type(v) == "table":
        items = list(v.items())
        count = 0
        mx = 0
        is_array = True
        for k, _x in items:
            tk = type(k)
            if (tk is int or tk is float) and k > 0 and _c_int32(k) == k:
                if k > mx:
                    mx = int(k)
                count += 1
                continue
            is_array = False
            break
        if is_array and mx == count:
            _mp_len_hdr(count, 0x90, b"\xdc", b"\xdd", out)
            if count:
                vals = dict(items)
                for j in range(1, count + 1):
                    _mp_encode(vals[j], level + 1, out)
        else:
            _mp_len_hdr(len(items), 0x80, b"\xde", b"\xdf", out)
            for k, x in items:
                _mp_encode(k, level + 1, out)
                _mp_encode(x, level + 1, out)
    else:
        out.append(b"\xc0")


def _cmsgpack_lib(ctx):

    def pack(*args):
        if not args:
            ctx.argerr(0, b"pack", b"MessagePack pack needs input.")
        out = []
        for a in args:
            _mp_encode(a, 0, out)
        return b"".join(out)

    def decode(data, pos, end):
        """One value at data[pos:] -> (value, newpos); raises _MpError(1=EOF, 2=BADFMT)."""
        if pos >= end:
            raise _MpError(1)
        c = data[pos]
        if c < 0x80:
            return c, pos + 1
        if c >= 0xe0:
            return c - 256, pos + 1
        if (c & 0xe0) == 0xa0:
            n = c & 0x1f
            if end - pos < 1 + n:
                raise _MpError(1)
            return data[pos + 1:pos + 1 + n], pos + 1 + n
        if (c & 0xf0) == 0x90:
            return decode_array(data, pos + 1, end, c & 0xf)
        if (c & 0xf0) == 0x80:
            return decode_map(data, pos + 1, end, c & 0xf)
        if c == 0xc0:
            return None, pos + 1
        if c == 0xc2:
            return False, pos + 1
        if c == 0xc3:
            return True, pos + 1
        spec = _MP_FIXED.get(c)
        if spec is not None:
            size, conv = spec
            if end - pos < 1 + size:
                raise _MpError(1)
            return conv(data[pos + 1:pos + 1 + size]), pos + 1 + size
        if c in (0xd9, 0xda, 0xdb):
            hl = {0xd9: 1, 0xda: 2, 0xdb: 4}[c]
            if end - pos < 1 + hl:
                raise _MpError(1)
            n = int.from_bytes(data[pos + 1:pos + 1 + hl], "big")
            p = pos + 1 + hl
            if end - p < n:
                raise _MpError(1)
            return data[p:p + n], p + n
        if c in (0xdc, 0xdd, 0xde, 0xdf):
            hl = 2 if c in (0xdc, 0xde) else 4
            if end - pos < 1 + hl:
                raise _MpError(1)
            n = int.from_bytes(data[pos + 1:pos + 1 + hl], "big")
            if c in (0xdc, 0xdd):
                return decode_array(data, pos + 1 + hl, end, n)
            return decode_map(data, pos + 1 + hl, end, n)
        raise _MpError(2)

    def decode_array(data, pos, end, n):
        items = []
        for _ in range(n):
            v, pos = decode(data, pos, end)
            items.append(v)
        return ctx.mkarray(items), pos

    def decode_map(data, pos, end, n):
        flat = []
        for _ in range(n):
            k, pos = decode(data, pos, end)
            v, pos = decode(data, pos, end)
            if k is None:
                raise _MpError(b"table index is nil")
            if type(k) is float and k != k:
                raise _MpError(b"table index is NaN")
            flat.append(_lua_num(k))
            flat.append(_lua_num(v))
        return ctx.mkmap(flat), pos

    def unpack_full(fname, args, limit, offset):
        data = ctx.checkstring(fname, args, 0)
        ln = len(data)
        if offset < 0 or limit < 0:
            ctx.err(b"Invalid request to unpack with offset of %d and limit of %d."
                    % (_wrap32(offset), _wrap32(ln)))
        elif offset > ln:
            ctx.err(b"Start offset %d greater than input length %d."
                    % (_wrap32(offset), _wrap32(ln)))
        decode_all = not limit and not offset
        if decode_all:
            limit = 2147483647
        res = []
        pos = offset
        try:
            while pos < ln and len(res) < limit:
                v, pos = decode(data, pos, ln)
                res.append(_lua_num(v))
        except _MpError as e:
            code = e.args[0]
            if code == 1:
                ctx.err(b"Missing bytes in input.")
            elif code == 2:
                ctx.err(b"Bad data format in input.")
            raise LuaRaise(code)
        if not decode_all:
            res.insert(0, -1 if pos >= ln else pos)
        return tuple(res)

    def unpack(*args):
        return unpack_full(b"unpack", args, 0, 0)

    def unpack_one(*args):
        offset = ctx.optinteger(b"unpack_one", args, 1, 0)
        return unpack_full(b"unpack_one", args[:1], 1, offset)

    def unpack_limit(*args):
        limit = ctx.checkinteger(b"unpack_limit", args, 1)
        offset = ctx.optinteger(b"unpack_limit", args, 2, 0)
        return unpack_full(b"unpack_limit", args[:1], limit, offset)

    return ctx.lib({
        b"pack": pack, b"unpack": unpack, b"unpack_one": unpack_one,
        b"unpack_limit": unpack_limit, b"_NAME": b"cmsgpack",
        b"_VERSION": b"lua-cmsgpack 0.4.0",
        b"_COPYRIGHT": b"Copyright (C) 2012, Salvatore Sanfilippo",
        b"_DESCRIPTION": b"MessagePack C implementation for Lua"})


def _u64_to_lua(b):
    u = int.from_bytes(b, "big")
    if u >= 1 << 63:
        u -= 1 << 64
    return _lua_num(u)


def _i64_to_lua(b):
    return float(int.from_bytes(b, "big", signed=True))


_MP_FIXED = {
    0xcc: (1, lambda b: b[0]),
    0xd0: (1, lambda b: b[0] - 256 if b[0] >= 128 else b[0]),
    0xcd: (2, lambda b: int.from_bytes(b, "big")),
    0xd1: (2, lambda b: int.from_bytes(b, "big", signed=True)),
    0xce: (4, lambda b: int.from_bytes(b, "big")),
    0xd2: (4, lambda b: int.from_bytes(b, "big", signed=True)),
    0xcf: (8, _u64_to_lua),
    0xd3: (8, _i64_to_lua),
    0xca: (4, lambda b: _unpack_f(b)[0]),
    0xcb: (8, lambda b: _unpack_d(b)[0]),
}


# =========================================================================================
# struct
# =========================================================================================
_MAXINTSIZE = 32
_MAXALIGN = 8
_SIZES = {66: 1, 98: 1, 72: 2, 104: 2, 76: 8, 108: 8, 84: 8, 102: 4, 100: 8, 120: 1}
_INT_OPTS = frozenset(b"bBhHlLTiI")


def _struct_lib(ctx):
    def getnum(fmt, i, df):
        n = len(fmt)
        if i >= n or not (48 <= fmt[i] <= 57):
            return df, i
        a = 0
        while i < n and 48 <= fmt[i] <= 57:
            d = fmt[i] - 48
            if a > 214748364 or a * 10 > 2147483647 - d:
                ctx.err(b"integral size overflow")
            a = a * 10 + d
            i += 1
        return a, i

    def optsize(opt, fmt, i):
        s = _SIZES.get(opt)
        if s is not None:
            return s, i
        if opt == 99:           # 'c'
            return getnum(fmt, i, 1)
        if opt == 105 or opt == 73:
            sz, i = getnum(fmt, i, 4)
            if sz > _MAXINTSIZE:
                ctx.err(b"integral size %d is larger than limit of %d" % (sz, _MAXINTSIZE))
            return sz, i
        return 0, i

    def toalign(ln, align, opt, size):
        if size == 0 or opt == 99:
            return 0
        if size > align:
            size = align
        return (size - (ln & (size - 1))) & (size - 1)

    def control(fname, opt, fmt, i, h):
        """controloptions(): h = [endian_little, align]."""
        if opt == 32:
            return i
        if opt == 62:
            h[0] = False
            return i
        if opt == 60:
            h[0] = True
            return i
        if opt == 33:
            a, i = getnum(fmt, i, _MAXALIGN)
            if not (a > 0 and (a & (a - 1)) == 0):
                ctx.err(b"alignment %d is not a power of 2" % a)
            h[1] = a
            return i
        ctx.argerr(1, fname, b"invalid format option '%s'" % bytes((opt,)))

    def getfmt(fname, args):
        fmt = ctx.checkstring(fname, args, 0)
        z = fmt.find(b"\0")
        return fmt if z < 0 else fmt[:z]

    def pack(*args):
        fmt = getfmt(b"pack", args)
        args = args + (None,)    # b_pack pushes a nil mark after its arguments
        h = [True, 1]
        arg = 1
        total = 0
        out = []
        i = 0
        n = len(fmt)
        while i < n:
            opt = fmt[i]
            i += 1
            size, i = optsize(opt, fmt, i)
            pad = toalign(total, h[1], opt, size)
            total += pad
            if pad:
                out.append(b"\0" * pad)
            if opt in _INT_OPTS:
                num = ctx.checknumber(b"pack", args, arg)
                arg += 1
                if num < 0:
                    v = _num_to_i64(num) & 0xffffffffffffffff
                else:
                    v = _num_to_u64(num)
                b = v.to_bytes(8, "little")
                if size <= 8:
                    b = b[:size]
                else:
                    b = b + b"\0" * (size - 8)
                out.append(b if h[0] else b[::-1])
            elif opt == 120:
                out.append(b"\0")
            elif opt == 102:
                num = float(ctx.checknumber(b"pack", args, arg))
                arg += 1
                try:
                    b = _pack_f(num)
                except OverflowError:
                    b = _pack_f(math.inf if num > 0 else -math.inf)
                out.append(b[::-1] if h[0] else b)
            elif opt == 100:
                num = float(ctx.checknumber(b"pack", args, arg))
                arg += 1
                b = _pack_d(num)
                out.append(b[::-1] if h[0] else b)
            elif opt == 99 or opt == 115:
                s = ctx.checkstring(b"pack", args, arg)
                arg += 1
                if size == 0:
                    size = len(s)
                if len(s) < size:
                    ctx.argerr(arg + 1, b"pack", b"string too short")
                out.append(s[:size])
                if opt == 115:
                    out.append(b"\0")
                    size += 1
            else:
                i = control(b"pack", opt, fmt, i, h)
            total += size
        return b"".join(out)

    def getinteger(b, little, signed, size):
        if little:
            b = b[::-1]
        v = int.from_bytes(b[-8:], "big") if size else 0
        if not signed:
            return float(v)
        mask = (0xffffffffffffffff << ((size * 8 - 1) & 63)) & 0xffffffffffffffff
        if v & mask:
            v |= mask
        if v >= 1 << 63:
            v -= 1 << 64
        return float(v)

    def unpack(*args):
        fmt = getfmt(b"unpack", args)
        data = ctx.checkstring(b"unpack", args, 1)
        ld = len(data)
        pos = ctx.optinteger(b"unpack", args, 2, 1) & 0xffffffffffffffff
        if pos == 0:
            ctx.argerr(3, b"unpack", b"offset must be 1 or greater")
        pos -= 1
        h = [True, 1]
        res = []
        i = 0
        n = len(fmt)
        while i < n:
            opt = fmt[i]
            i += 1
            size, i = optsize(opt, fmt, i)
            pos += toalign(pos, h[1], opt, size)
            if not (size <= ld and pos <= ld - size):
                ctx.argerr(2, b"unpack", b"data string too short")
            if opt in _INT_OPTS:
                res.append(getinteger(data[pos:pos + size], h[0], 97 <= opt <= 122, size))
            elif opt == 120:
                pass
            elif opt == 102:
                b = data[pos:pos + 4]
                res.append(_unpack_f(b[::-1] if h[0] else b)[0])
            elif opt == 100:
                b = data[pos:pos + 8]
                res.append(_unpack_d(b[::-1] if h[0] else b)[0])
            elif opt == 99:
                if size == 0:
                    if not res or ctx.eng._lnumber(res[-1]) is None:
                        ctx.err(b"format 'c0' needs a previous size")
                    prev = res.pop()
                    num = ctx.eng._lnumber(prev)
                    size = _num_to_u64(num) if num >= 0 else \
                        _num_to_i64(num) & 0xffffffffffffffff
                    if not (size <= ld and pos <= ld - size):
                        ctx.argerr(2, b"unpack", b"data string too short")
                res.append(data[pos:pos + size])
            elif opt == 115:
                e = data.find(b"\0", pos)
                if e < 0:
                    ctx.err(b"unfinished string in data")
                size = e - pos + 1
                res.append(data[pos:e])
            else:
                i = control(b"unpack", opt, fmt, i, h)
            pos += size
        res.append(pos + 1)
        return tuple(res)

    def size(*args):
        fmt = getfmt(b"size", args)
        h = [True, 1]
        pos = 0
        i = 0
        n = len(fmt)
        while i < n:
            opt = fmt[i]
            i += 1
            sz, i = optsize(opt, fmt, i)
            pos += toalign(pos, h[1], opt, sz)
            if opt == 115:
                ctx.argerr(1, b"size", b"option 's' has no fixed size")
            elif opt == 99 and sz == 0:
                ctx.argerr(1, b"size", b"option 'c0' has no fixed size")
            if not (48 <= opt <= 57 or 65 <= opt <= 90 or 97 <= opt <= 122):
                i = control(b"size", opt, fmt, i, h)
            pos += sz
        return pos

    return ctx.lib({b"pack": pack, b"unpack": unpack, b"size": size})
