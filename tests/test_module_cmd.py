"""MODULE (module.c moduleCommand) against real Redis 7.0.15, and RESTORE-ASKING.

redislet loads no native module: LIST is empty and LOAD / LOADEX / UNLOAD answer as Redis
does for a library that cannot be loaded / a module that is not loaded, with the same log
lines for the common failures. LOAD, LOADEX and UNLOAD are protected by
enable-module-command ("no" by default), with their own rejection text.
"""
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import Raw, parse_reply, start_real_redis, start_redislet

PROTECTED = (b"-ERR MODULE command not allowed. If the enable-module-command option is set "
             b"to \"local\", you can run it from a local connection, otherwise you need to set "
             b"this option in the configuration file, and then restart the server.\r\n")
LOAD_ERROR = b"-ERR Error loading the extension. Please check the server logs.\r\n"


def _protocols(both):
    yield both
    yield both.resp3()


# -- the default configuration: enable-module-command no ----------------------------------------
@pytest.mark.parametrize("args", [
    ("MODULE", "HELP"),
    ("module", "help"),
    ("MODULE", "LIST"),
    ("MODULE", "LOAD", "/nonexistent.so"),
    ("MODULE", "LOADEX", "/nonexistent.so", "CONFIG", "a", "b"),
    ("MODULE", "UNLOAD", "foo"),
    ("MODULE",),
    ("MODULE", "foo"),
    ("MODULE", "HELP", "x"),
    ("MODULE", "LIST", "x"),
    ("MODULE", "LOAD"),
    ("MODULE", "LOADEX"),
    ("MODULE", "UNLOAD"),
    ("MODULE", "UNLOAD", "a", "b"),
])
def test_module_default_config(both, args):
    for b in _protocols(both):
        b(*args)


def test_module_load_is_protected(raw):
    c = raw()
    assert c.cmd("MODULE", "LOAD", "/x") == PROTECTED
    assert c.cmd("MODULE", "UNLOAD", "x") == PROTECTED
    assert c.cmd("MODULE", "LIST") == b"*0\r\n"


def test_protected_rejection_counts_and_multi(both):
    """A rejected protected command flags the transaction (EXECABORT) and counts as a
    rejected call, as DEBUG's does."""
    both("MULTI")
    both("MODULE", "LOAD", "/x")
    both("PING")
    both("EXEC")
    both("MULTI")
    both("MODULE", "LIST")
    both("EXEC")


def test_command_info_and_docs(both):
    for b in _protocols(both):
        for name in ("module|help", "module|list", "module|load", "module|loadex",
                     "module|unload", "restore-asking"):
            b("COMMAND", "INFO", name)
            b("COMMAND", "DOCS", name)
        # the container lists its subcommands in Redis's dict order (a project-wide
        # difference of every container): compare them as a set
        ia, ib = (parse_reply(c.cmd("COMMAND", "INFO", "module"))[0][0] for c in (b.a, b.b))
        assert ia[:9] == ib[:9]
        assert sorted(map(repr, ia[9])) == sorted(map(repr, ib[9]))


# -- enable-module-command yes / local ------------------------------------------------------------
@pytest.fixture(scope="module")
def enabled(tmp_path_factory):
    a = start_redislet(tmp_path_factory.mktemp("mod-redislet"), "--enable-module-command", "yes")
    try:
        b = start_real_redis(tmp_path_factory.mktemp("mod-redis"), "--enable-module-command",
                             "yes")
    except BaseException:
        a.stop()
        raise
    yield a, b
    a.stop()
    b.stop()


def _log_lines(server):
    with open(os.path.join(server.cwd, "server.log"), "rb") as f:
        text = f.read().decode("utf-8", "replace")
    # "pid:M 21 Nov 2026 08:14:17.817 # message" -> "# message"
    return [re.sub(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ ", "", ln) for ln in text.splitlines()]


def _module_log(server, since):
    lines = _log_lines(server)[since:]
    return [ln for ln in lines if "odule" in ln or "loadex" in ln or "CONFIG specified" in ln]


@pytest.fixture(scope="module")
def libdir(tmp_path_factory):
    """An executable copy of a shared library that is no Redis module, a non-executable
    file, and (with gcc) a library exporting a RedisModule_OnLoad that fails."""
    d = tmp_path_factory.mktemp("libs")
    import ctypes.util
    libm = None
    for cand in ("/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6",
                 ctypes.util.find_library("m")):
        if cand and os.path.isfile(cand):
            libm = cand
            break
    if libm is not None:
        shutil.copy(libm, d / "notamodule.so")
        os.chmod(d / "notamodule.so", 0o755)
    (d / "plain.txt").write_bytes(b"not a library\n")
    (d / "noexec.so").write_bytes(b"\x7fELF")
    os.chmod(d / "noexec.so", 0o644)
    (d / "garbage.so").write_bytes(b"not an ELF file at all")
    os.chmod(d / "garbage.so", 0o755)
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc:
        src = d / "failing.c"
        src.write_text("int RedisModule_OnLoad(void *ctx, void **argv, int argc) "
                       "{ (void)ctx; (void)argv; (void)argc; return 1; }\n")
        subprocess.run([gcc, "-shared", "-fPIC", "-o", str(d / "failing.so"), str(src)],
                       check=False, capture_output=True)
    return d


def _both_enabled(enabled, args):
    a, b = enabled
    ca, cb = Raw(a.port), Raw(b.port)
    try:
        ra, rb = ca.cmd(*args), cb.cmd(*args)
    finally:
        ca.close()
        cb.close()
    assert ra == rb, (args, ra, rb)
    return ra


def test_module_list_help_and_unload(enabled):
    assert _both_enabled(enabled, ("MODULE", "LIST")) == b"*0\r\n"
    _both_enabled(enabled, ("MODULE", "HELP"))
    assert _both_enabled(enabled, ("MODULE", "UNLOAD", "foo")) == (
        b"-ERR Error unloading module: no such module with that name\r\n")
    _both_enabled(enabled, ("MODULE", "UNLOAD", ""))


def _load_cases(libdir):
    cases = [
        ("MODULE", "LOAD", "/nonexistent/module.so"),
        ("MODULE", "LOAD", "/nonexistent/module.so", "arg1", "arg2"),
        ("MODULE", "LOAD", str(libdir / "plain.txt")),
        ("MODULE", "LOAD", str(libdir / "noexec.so")),
        ("MODULE", "LOAD", str(libdir / "garbage.so")),
        ("MODULE", "LOAD", str(libdir)),
        ("MODULE", "LOAD", "relative-name.so"),
        ("MODULE", "LOADEX", "/nonexistent/module.so"),
        ("MODULE", "LOADEX", "/nonexistent/module.so", "CONFIG", "a"),
        ("MODULE", "LOADEX", "/nonexistent/module.so", "CONFIG", "a", "b"),
        ("MODULE", "LOADEX", "/nonexistent/module.so", "CONFIG", "a", "b", "ARGS"),
        ("MODULE", "LOADEX", "/nonexistent/module.so", "ARGS", "x", "CONFIG"),
        ("MODULE", "LOADEX", "/nonexistent/module.so", "foo"),
        ("MODULE", "LOADEX", "/nonexistent/module.so", "config", "a", "b", "bar"),
    ]
    if (libdir / "notamodule.so").exists():
        cases.append(("MODULE", "LOAD", str(libdir / "notamodule.so")))
        cases.append(("MODULE", "LOADEX", str(libdir / "notamodule.so"), "ARGS", "1"))
    return cases


def test_module_load_failures_reply_and_log_as_redis(enabled, libdir):
    a, b = enabled
    for args in _load_cases(libdir):
        na, nb = len(_log_lines(a)), len(_log_lines(b))
        assert _both_enabled(enabled, args) == LOAD_ERROR
        time.sleep(0.05)
        assert _module_log(a, na) == _module_log(b, nb), args


def test_module_with_onload_is_refused(enabled, libdir):
    """A real module entry point: Redis runs it (it fails here), redislet cannot; the
    reply is the same."""
    if not (libdir / "failing.so").exists():
        pytest.skip("no C compiler to build a module")
    assert _both_enabled(enabled, ("MODULE", "LOAD", str(libdir / "failing.so"))) == LOAD_ERROR
    assert _both_enabled(enabled, ("MODULE", "LIST")) == b"*0\r\n"


def test_module_command_local(tmp_path):
    """enable-module-command local: allowed from a loopback connection."""
    a = start_redislet(_mk(tmp_path, "a"), "--enable-module-command", "local")
    try:
        c = Raw(a.port)
        assert c.cmd("MODULE", "UNLOAD", "x") == (
            b"-ERR Error unloading module: no such module with that name\r\n")
        c.close()
    finally:
        a.stop()


def _mk(tmp_path, name):
    d = tmp_path / name
    d.mkdir()
    return d


# -- RESTORE-ASKING: RESTORE's handler under its own name -----------------------------------------
def test_restore_asking(both):
    for b in _protocols(both):
        b("DEL", "src", "dst", "dst2")
        b("RPUSH", "src", "a", "b", "c")
        payload = both.a.cmd("DUMP", "src")
        assert payload == both.b.cmd("DUMP", "src")
        data = payload.split(b"\r\n", 1)[1][:-2]
        b("RESTORE-ASKING", "dst", "0", data)
        b("LRANGE", "dst", "0", "-1")
        b("RESTORE-ASKING", "dst", "0", data)                    # BUSYKEY
        b("RESTORE-ASKING", "dst", "0", data, "REPLACE", "IDLETIME", "10")
        b("RESTORE-ASKING", "dst2", "100000", data, "FREQ", "5")
        b("RESTORE-ASKING", "dst2", "-1", data, "REPLACE")
        b("RESTORE-ASKING", "dst2", "0", b"bad payload", "REPLACE")
        b("RESTORE-ASKING", "dst2", "0", data, "FOO")
        b("RESTORE-ASKING", "dst2", "0")
        b("restore-asking", "dst2", "0", data, "replace", "absttl")
        b("TYPE", "dst2")


def test_restore_asking_propagates_under_its_name(tmp_path):
    """The effect reaches replicas (and the AOF) as RESTORE-ASKING, as in Redis."""
    m = start_redislet(_mk(tmp_path, "m"), "--repl-diskless-sync-delay", "0")
    try:
        c = Raw(m.port)
        c.cmd("SET", "k", "v")
        data = c.cmd("DUMP", "k").split(b"\r\n", 1)[1][:-2]
        sync = Raw(m.port)
        sync.send(b"SYNC\r\n")
        # read the RDB ($<len> or newlines first), then the stream
        deadline = time.time() + 10
        buf = b""
        while time.time() < deadline:
            buf += sync.sock.recv(65536)
            head = buf.lstrip(b"\n")
            if head.startswith(b"$") and b"\r\n" in head:
                n = int(head[1:head.index(b"\r\n")])
                if len(head) >= head.index(b"\r\n") + 2 + n:
                    break
        c.cmd("RESTORE-ASKING", "k2", "0", data)
        stream = b""
        while b"RESTORE-ASKING" not in stream and time.time() < deadline:
            stream += sync.sock.recv(65536)
        assert b"$14\r\nRESTORE-ASKING\r\n$2\r\nk2\r\n" in stream
        sync.close()
        c.close()
    finally:
        m.stop()


def test_command_list_matches_redis_for_these_commands(both):
    names_a = set(both.a.cmd("COMMAND", "LIST").split(b"\r\n"))
    names_b = set(both.b.cmd("COMMAND", "LIST").split(b"\r\n"))
    for name in (b"failover", b"lolwut", b"module", b"module|help", b"module|list",
                 b"module|load", b"module|loadex", b"module|unload", b"restore-asking"):
        assert name in names_b
        assert name in names_a, name
