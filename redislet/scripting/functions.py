"""Redis Functions (functions.c, function_lua.c): libraries of Lua functions loaded with
FUNCTION LOAD and called with FCALL / FCALL_RO, kept in the RDB (FUNCTION2 records) and
replicated / AOF-logged as the FUNCTION commands themselves.

The functions engine has its own Lua interpreter. A library's body runs once at load time
with only the library API (redis.register_function, redis.log, versions) visible; the
registered callbacks later run with the full API.
"""
from ..errors import CommandError
from ..glob import match as glob_match
from ..util import split_args
from . import engine as E
from .eval import prepare_check, new_ctx, command_flags_check

LOAD_TIMEOUT_MS = 500
ENGINE_NAME = b"LUA"

_NAME_OK = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
BAD_NAME = ("Library names can only contain letters, numbers, or underscores(_) and must be "
            "at least one character long")


def parse_flag(s):
    """A function flag name (case-insensitive), or None."""
    s = s.lower()
    for f, name in E.FLAG_NAMES:
        if s == name.encode():
            return f
    return None


def valid_name(name):
    if not name:
        return False
    return all(ch in _NAME_OK for ch in name)


class Function:
    # (no reference back to its Library: the pair would be a reference cycle, and the
    # server's data must have none; see gcpolicy.py)
    __slots__ = ("name", "func", "desc", "flags")

    def __init__(self, name, func, desc, flags):
        self.name = name
        self.func = func
        self.desc = desc
        self.flags = flags


class Library:
    __slots__ = ("name", "code", "functions")

    def __init__(self, name, code):
        self.name = name
        self.code = code
        self.functions = {}        # name -> Function (names are case-sensitive here)

    def add_function(self, name, cb, desc, flags):
        """functionLibCreateFunction: None or the error text."""
        if not valid_name(name):
            return BAD_NAME
        if name in self.functions:
            return "Function already exists in the library"
        self.functions[name] = Function(name, cb, desc, flags)
        return None


class LibSet:
    """functionsLibCtx: libraries by name, functions by (case-insensitive) name."""

    def __init__(self):
        self.libraries = {}        # name -> Library
        self.functions = {}        # lower-case name -> Function

    def link(self, lib):
        for f in lib.functions.values():
            self.functions[f.name.lower()] = f
        self.libraries[lib.name] = lib

    def unlink(self, lib):
        for f in lib.functions.values():
            self.functions.pop(f.name.lower(), None)
        del self.libraries[lib.name]

    def clear(self):
        self.libraries.clear()
        self.functions.clear()


def extract_metadata(code):
    """functionExtractLibMetaData: (engine, name, body) or raises CommandError."""
    if not code.startswith(b"#!"):
        raise CommandError("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid library metadata")
    parts = split_args(code[:end])
    if not parts:
        raise CommandError("ERR Invalid library metadata")
    engine = parts[0][2:]
    name = None
    for p in parts[1:]:
        if p[:5].lower() == b"name=":
            if name is not None:
                raise CommandError("ERR Invalid metadata value, name argument was given "
                                   "multiple times")
            name = p[5:]
            continue
        raise CommandError("ERR Invalid metadata value given: %s"
                           % p.decode("utf-8", "surrogateescape"))
    if name is None:
        raise CommandError("ERR Library name was not given")
    return engine, name, code[end:]


class FunctionsState:
    """Per server: the function engine (created on first use) and the libraries."""

    def __init__(self, srv):
        self.srv = srv
        self._engine = None
        self.libs = LibSet()

    @property
    def engine(self):
        e = self._engine
        if e is None:
            from .libs import make_libs
            e = self._engine = E.LuaEngine(self.srv, False, make_libs)
        return e

    def update_info(self):
        srv = self.srv
        srv.number_of_functions = len(self.libs.functions)
        srv.number_of_libraries = len(self.libs.libraries)
        srv.used_memory_functions = 200 + sum(
            96 + len(lib.code) + len(lib.name) + 64 * len(lib.functions)
            for lib in self.libs.libraries.values())

    def create(self, code, replace, libset=None, timeout_ms=LOAD_TIMEOUT_MS):
        """functionsCreateWithLibraryCtx: the library name, or raises CommandError."""
        if E.LUA_IMPORT_ERROR is not None:
            raise CommandError(E.LUA_IMPORT_ERROR)
        libset = self.libs if libset is None else libset
        engine_name, name, body = extract_metadata(code)
        if not valid_name(name):
            raise CommandError("ERR " + BAD_NAME)
        if engine_name.upper() != ENGINE_NAME:
            raise CommandError("ERR Engine '%s' not found"
                               % engine_name.decode("utf-8", "surrogateescape"))
        old = libset.libraries.get(name)
        if old is not None and not replace:
            raise CommandError("ERR Library '%s' already exists"
                               % name.decode("utf-8", "surrogateescape"))
        if old is not None:
            libset.unlink(old)
        try:
            lib = Library(name, code)
            self._load(lib, body, timeout_ms)
            if not lib.functions:
                raise CommandError("ERR No functions registered")
            for f in lib.functions.values():
                if f.name.lower() in libset.functions:
                    raise CommandError("ERR Function %s already exists"
                                       % f.name.decode("utf-8", "surrogateescape"))
        except BaseException:
            if old is not None:
                libset.link(old)
            raise
        libset.link(lib)
        if libset is self.libs:
            self.update_info()
        return name

    def _load(self, lib, body, timeout_ms):
        """luaEngineCreate: compile the body and run it with the library API."""
        import time
        eng = self.engine
        f, msg = eng.compile(body, b"@user_function")
        if f is None:
            raise CommandError("ERR Error compiling function: %s"
                               % msg.decode("utf-8", "surrogateescape"))
        eng.load_lib = lib
        eng.load_deadline = (time.monotonic() + timeout_ms / 1000.0) if timeout_ms else None
        try:
            ok, err = eng.api.load(f)
        finally:
            eng.load_lib = None
            eng.load_deadline = None
            if eng.hook_switched:
                eng.hook_switched = False
                eng.api.reset_hook()
        if not ok:
            text = err.decode("utf-8", "surrogateescape") if err is not None else "(null)"
            raise CommandError("ERR Error registering functions: %s" % text)

    # -- RDB / DUMP ---------------------------------------------------------------------
    def dump(self):
        """FUNCTION DUMP's payload: FUNCTION2 records, RDB version, CRC64."""
        from ..persistence import rdb
        from ..persistence.crc64 import crc64
        compress = self.srv.config.values.get("rdbcompression", True)
        parts = [b"\xf5" + rdb.enc_string(lib.code, compress)
                 for lib in self.libs.libraries.values()]
        body = b"".join(parts) + bytes((rdb.RDB_VERSION & 0xff, rdb.RDB_VERSION >> 8))
        return body + crc64(0, body).to_bytes(8, "little")

    def restore(self, data, policy):
        from ..persistence import rdb
        if not rdb.verify_payload(data):
            raise CommandError("ERR DUMP payload version or checksum are wrong")
        libset = LibSet()
        r = rdb.Reader(data, 0, len(data))
        try:
            while len(data) - r.pos > 10:
                t = r.byte()
                if t not in (rdb.OP_FUNCTION, rdb.OP_FUNCTION2):
                    raise CommandError("ERR given type is not a function")
                code = self._read_record(r, t)
                try:
                    self.create(code, False, libset, 0)
                except CommandError as e:
                    raise CommandError(e.args[0])
        except rdb.RDBError:
            raise CommandError("ERR failed loading the given functions payload")
        if policy == b"flush":
            self.libs = libset
        else:
            self.join(libset, policy == b"replace")
        self.update_info()

    @staticmethod
    def _read_record(r, t):
        if t == 246:     # 7.0 RC format: name, engine, description, body
            name = r.string()
            engine = r.string()
            if r.length():
                r.string()
            blob = r.string()
            return b"#!%s name=%s\n%s" % (engine, name, blob)
        return r.string()

    def join(self, src, replace):
        """libraryJoin: add src's libraries; all or nothing."""
        dst = self.libs
        old = []
        for name in src.libraries:
            lib = dst.libraries.get(name)
            if lib is not None:
                if not replace:
                    for o in old:
                        dst.link(o)
                    raise CommandError("ERR Library %s already exists"
                                       % name.decode("utf-8", "surrogateescape"))
                dst.unlink(lib)
                old.append(lib)
        for key, f in src.functions.items():
            if key in dst.functions:
                for o in old:
                    dst.link(o)
                raise CommandError("ERR Function %s already exists"
                                   % f.name.decode("utf-8", "surrogateescape"))
        for lib in src.libraries.values():
            dst.link(lib)

    def flush(self):
        self.libs = LibSet()
        self.update_info()


# -- RDB hooks (persistence/rdb.py) -------------------------------------------------------
def _rdb_save(srv):
    st = getattr(srv, "functions", None)
    if st is None:
        return ()
    return [lib.code for lib in st.libs.libraries.values()]


def _rdb_load(srv, code, replace=False):
    st = srv.functions
    # rdbFunctionLoad with RDBFLAGS_ALLOW_DUP (DEBUG RELOAD ... MERGE): replace a library
    # of the same name
    replace = replace or getattr(srv, "rdb_allow_dup", False)
    try:
        st.create(code, replace, None, 0)
    except CommandError as e:
        msg = e.args[0]
        if msg.startswith("ERR "):
            msg = msg[4:]
        raise ValueError(msg) from None


def _rdb_clear(srv):
    st = getattr(srv, "functions", None)
    if st is not None:
        st.flush()


def install_rdb_hooks():
    try:
        from ..persistence import rdb
    except ImportError:          # pragma: no cover
        return
    if _rdb_save not in rdb.FUNCTION_SAVERS:
        rdb.FUNCTION_SAVERS.append(_rdb_save)
        rdb.FUNCTION_LOADERS.append(_rdb_load)
        rdb.FUNCTION_CLEARERS.append(_rdb_clear)


# -- FCALL ----------------------------------------------------------------------------------
def fcall_generic(c, argv, ro):
    srv = c.server
    st = srv.functions
    f = st.libs.functions.get(argv[1].lower())
    if f is not None:
        msg = command_flags_check(c, f.flags)
        if msg is not None:
            raise CommandError(msg)
    if srv.monitors:
        srv.feed_monitors(c, argv)
    if f is None:
        raise CommandError("ERR Function not found")
    from ..util import parse_ll
    n = parse_ll(argv[2])
    if n is None:
        raise CommandError("ERR Bad number of keys provided")
    if n > len(argv) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if n < 0:
        raise CommandError("ERR Number of keys can't be negative")
    msg = prepare_check(c, f.flags, ro)
    if msg is not None:
        raise CommandError(msg)
    eng = st.engine
    ctx = new_ctx(eng, c, f.name, f.flags, ro, False)
    ctx.argv = argv
    return eng.execute(c, ctx, f.func, argv[3:3 + n], argv[3 + n:])


def list_libraries(c, argv):
    with_code = False
    pattern = None
    i = 2
    while i < len(argv):
        a = argv[i]
        if not with_code and a.lower() == b"withcode":
            with_code = True
            i += 1
            continue
        if pattern is None and a.lower() == b"libraryname":
            if i >= len(argv) - 1:
                raise CommandError("ERR library name argument was not given")
            pattern = argv[i + 1]
            i += 2
            continue
        raise CommandError("ERR Unknown argument %s" % a.decode("utf-8", "surrogateescape"))
    r = c.r
    out = []
    from ..resp.encode import bulk
    for lib in c.server.functions.libs.libraries.values():
        if pattern is not None and not glob_match(pattern, lib.name, nocase=True):
            continue
        fparts = []
        for f in lib.functions.values():
            names = [name for fl, name in E.FLAG_NAMES if f.flags & fl]
            flags = r.set_header(len(names)) + b"".join(b"+%s\r\n" % n.encode() for n in names)
            fparts.append(r.map([
                (bulk(b"name"), bulk(f.name)),
                (bulk(b"description"), r.null if f.desc is None else bulk(f.desc)),
                (bulk(b"flags"), flags)]))
        pairs = [(bulk(b"library_name"), bulk(lib.name)),
                 (bulk(b"engine"), bulk(ENGINE_NAME)),
                 (bulk(b"functions"), b"*%d\r\n" % len(fparts) + b"".join(fparts))]
        if with_code:
            pairs.append((bulk(b"library_code"), bulk(lib.code)))
        out.append(r.map(pairs))
    return b"*%d\r\n" % len(out) + b"".join(out)
