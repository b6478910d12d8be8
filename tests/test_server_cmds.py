"""Server commands: CONFIG, TIME, LASTSAVE, SHUTDOWN, MONITOR, SLOWLOG, LATENCY, FUNCTION,
DEBUG (needs enable-debug-command: its own pair of servers)."""
import os
import re
import socket
import time

import pytest

from conftest import Raw, start_real_redis, start_redislet


def num(reply):
    return int(reply[1:-2])


def bulk_text(reply):
    body = reply.split(b"\r\n", 1)[1][:-2]
    return body[4:] if reply[:1] == b"=" else body


# -- CONFIG -------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["CONFIG"], ["CONFIG", "FOO"], ["CONFIG", "HELP"], ["CONFIG", "GET"],
    ["CONFIG", "GET", "maxmemory"], ["CONFIG", "GET", "nosuch"], ["CONFIG", "GET", "MAXCLIENTS"],
    ["CONFIG", "GET", "hash-max-ziplist-entries"], ["CONFIG", "GET", "save"],
    ["CONFIG", "GET", "slowlog-max-*"], ["CONFIG", "GET", "maxmemory", "maxmemory"],
    ["CONFIG", "SET", "maxmemory"], ["CONFIG", "SET", "maxmemory", "1", "x"],
    ["CONFIG", "SET", "nosuch", "1"], ["CONFIG", "SET", "maxmemory", "abc"],
    ["CONFIG", "SET", "daemonize", "yes"], ["CONFIG", "SET", "maxmemory", "1", "maxmemory", "2"],
    ["CONFIG", "SET", "maxmemory", "0"], ["CONFIG", "SET", "hz", "1000"],
    ["CONFIG", "GET", "hz"], ["CONFIG", "SET", "hz", "10"],
    ["CONFIG", "SET", "slowlog-log-slower-than", "-2"],
    ["CONFIG", "RESETSTAT", "x"], ["CONFIG", "REWRITE"], ["CONFIG", "REWRITE", "x"],
])
def test_config_differential(both, args):
    both(*args)
    both.resp3()
    both(*args)


def test_config_resetstat(raw):
    c = raw()
    c.cmd("SET", "rs", "1")
    c.cmd("NOSUCHCMD")
    c.cmd("GET", "rs", "x")
    assert c.cmd("CONFIG", "RESETSTAT") == b"+OK\r\n"
    info = c.cmd("INFO", "everything").decode()
    assert "cmdstat_set:" not in info and "errorstat_" not in info
    assert "total_error_replies:0\r\n" in info
    assert re.search(r"cmdstat_config\|resetstat:calls=1,", info)
    assert "latency_percentiles_usec_config|resetstat:" in info
    assert "total_connections_received:0\r\n" in info


def test_config_set_runtime_directives(raw):
    c = raw()
    for name, value in [("slowlog-max-len", "3"), ("loglevel", "verbose"), ("hz", "20"),
                        ("protected-mode", "no"), ("latency-monitor-threshold", "5")]:
        old = c.cmd("CONFIG", "GET", name)
        assert c.cmd("CONFIG", "SET", name, value) == b"+OK\r\n"
        assert c.cmd("CONFIG", "GET", name).endswith(b"$%d\r\n%s\r\n" % (len(value),
                                                                           value.encode()))
        oldval = old.split(b"\r\n")[-2]
        assert c.cmd("CONFIG", "SET", name, oldval) == b"+OK\r\n"
    assert b"hz:10\r\n" in c.cmd("INFO", "server")


def test_config_set_requirepass_runtime(raw):
    c = raw()
    assert c.cmd("CONFIG", "SET", "requirepass", "pw") == b"+OK\r\n"
    try:
        new = raw()
        assert new.cmd("GET", "x") == b"-NOAUTH Authentication required.\r\n"
        assert new.cmd("AUTH", "pw") == b"+OK\r\n"
        assert c.cmd("PING") == b"+PONG\r\n"     # existing connections stay logged in
    finally:
        assert c.cmd("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"


def test_config_set_port_runtime(raw, server):
    c = raw()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        newport = s.getsockname()[1]
    assert c.cmd("CONFIG", "SET", "port", str(newport)) == b"+OK\r\n"
    try:
        other = Raw(newport)
        assert other.cmd("PING") == b"+PONG\r\n"
        other.close()
        assert c.cmd("PING") == b"+PONG\r\n"
    finally:
        assert c.cmd("CONFIG", "SET", "port", str(server.port)) == b"+OK\r\n"
    again = Raw(server.port)
    assert again.cmd("PING") == b"+PONG\r\n"
    again.close()
    # setting the same bind / port again keeps listening
    assert c.cmd("CONFIG", "SET", "bind", "127.0.0.1") == b"+OK\r\n"
    assert c.cmd("CONFIG", "SET", "port", str(server.port)) == b"+OK\r\n"
    again = Raw(server.port)
    assert again.cmd("PING") == b"+PONG\r\n"
    again.close()


def test_config_set_sensitive_redacted_in_slowlog(raw):
    c = raw()
    c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "0")
    c.cmd("SLOWLOG", "RESET")
    c.cmd("CONFIG", "SET", "masterauth", "secret")
    c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "10000")
    log = c.cmd("SLOWLOG", "GET")
    assert b"secret" not in log
    assert b"$10\r\n(redacted)\r\n" in log
    c.cmd("CONFIG", "SET", "masterauth", "")


def test_config_rewrite(tmp_path):
    conf = tmp_path / "redis.conf"
    conf.write_text("maxmemory 1mb\n# comment\n")
    import sys
    from conftest import ServerProcess, free_port
    port = free_port()
    srv = ServerProcess([sys.executable, "-m", "redislet", str(conf), "--port", str(port),
                         "--save", "", "--bind", "127.0.0.1"], port, str(tmp_path))
    try:
        c = Raw(srv.port)
        assert c.cmd("CONFIG", "SET", "maxmemory", "2mb") == b"+OK\r\n"
        assert c.cmd("CONFIG", "REWRITE") == b"+OK\r\n"
        text = conf.read_text()
        assert "maxmemory 2mb" in text and "# comment" in text
        assert "# Generated by CONFIG REWRITE" in text
        assert c.cmd("INFO", "server").count(str(conf).encode()) == 1
        os.chmod(tmp_path, 0o500)
        try:
            r = c.cmd("CONFIG", "REWRITE")
            if os.geteuid() != 0:
                assert r.startswith(b"-ERR Rewriting config file: ")
        finally:
            os.chmod(tmp_path, 0o700)
    finally:
        srv.stop()


# -- TIME / LASTSAVE --------------------------------------------------------------------------
def test_time_and_lastsave(raw):
    c = raw()
    r = c.cmd("TIME")
    m = re.match(rb"^\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d+)\r\n$", r)
    assert m
    assert abs(int(m.group(1)) - time.time()) < 5 and 0 <= int(m.group(2)) < 1000000
    ls = num(c.cmd("LASTSAVE"))
    assert abs(ls - time.time()) < 3600


@pytest.mark.parametrize("args", [["TIME", "x"], ["LASTSAVE", "x"], ["MONITOR", "x"],
                                  ["SHUTDOWN", "foo"], ["SHUTDOWN", "SAVE", "NOSAVE"],
                                  ["SHUTDOWN", "ABORT", "NOW"], ["SHUTDOWN", "ABORT"],
                                  ["SHUTDOWN", "abort", "force"]])
def test_server_differential(both, args):
    both(*args)


# -- SHUTDOWN -----------------------------------------------------------------------------------
def test_shutdown(tmp_path):
    srv = start_redislet(tmp_path)
    try:
        c = Raw(srv.port)
        assert c.cmd("MULTI") == b"+OK\r\n"
        assert c.cmd("SHUTDOWN") == b"-ERR Command not allowed inside a transaction\r\n"
        assert c.cmd("DISCARD") == b"+OK\r\n"
        c.send(b"SHUTDOWN NOSAVE\r\n")
        c.sock.settimeout(5)
        assert c.read_until_closed() == b""
        srv.proc.wait(10)
        assert srv.proc.returncode == 0
    finally:
        srv.stop()


# -- MONITOR ------------------------------------------------------------------------------------
MON_RE = re.compile(rb'^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)\r\n$')


def test_monitor_format(raw):
    m, c = raw(), raw()
    assert m.cmd("MONITOR") == b"+OK\r\n"
    m.cmd("MONITOR") if False else None
    c.cmd("SELECT", "2")
    c.cmd("SET", "foo", b"b\"a\\r\n\x01\xff")
    c.cmd("GET", "foo")
    c.cmd("CONFIG", "GET", "maxmemory")     # admin: not shown
    c.cmd("PING")
    c.cmd("SELECT", "0")
    lines = [m.read_reply() for _ in range(5)]
    addr = ("%s:%d" % c.sock.getsockname()).encode()
    parsed = [MON_RE.match(ln) for ln in lines]
    assert all(parsed), lines
    assert parsed[0].group(5) == b'"SELECT" "2"' and parsed[0].group(3) == b"2"
    assert parsed[1].group(5) == b'"SET" "foo" "b\\"a\\\\r\\n\\x01\\xff"'
    assert parsed[1].group(3) == b"2" and parsed[1].group(4) == addr
    assert parsed[2].group(5) == b'"GET" "foo"'
    assert parsed[3].group(5) == b'"PING"'
    assert parsed[4].group(5) == b'"SELECT" "0"'
    assert abs(int(parsed[0].group(1)) - time.time()) < 5


def test_monitor_client_state(raw):
    m, a = raw(), raw()
    assert m.cmd("MONITOR") == b"+OK\r\n"
    lines = [ln for ln in bulk_text(a.cmd("CLIENT", "LIST")).decode().split("\n") if ln]
    assert any(" flags=O " in ln and " cmd=monitor " in ln for ln in lines)
    # MONITOR again: ignored, no reply; the monitor still runs commands
    m.send(b"MONITOR\r\nPING\r\n")
    assert m.read_reply() == b"+PONG\r\n"
    assert a.cmd("CLIENT", "LIST", "TYPE", "normal").count(b"flags=O") == 1


def test_monitor_in_multi(raw):
    c = raw()
    c.cmd("MULTI")
    assert c.cmd("MONITOR") == b"+QUEUED\r\n"
    assert c.cmd("EXEC") == b"*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n"


def test_monitor_redacts_auth(raw):
    m, c = raw(), raw()
    m.cmd("MONITOR")
    c.cmd("auth", "not-real")
    c.cmd("auth", "not-real", "not-a-password")
    c.cmd("hello", "2", "AUTH", "not-real", "not-a-password")
    assert m.read_reply().endswith(b'"auth" "(redacted)"\r\n')
    assert m.read_reply().endswith(b'"auth" "(redacted)" "(redacted)"\r\n')
    assert m.read_reply().endswith(b'"hello" "2" "AUTH" "(redacted)" "(redacted)"\r\n')


# -- SLOWLOG ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["SLOWLOG"], ["SLOWLOG", "HELP"], ["SLOWLOG", "help", "x"], ["SLOWLOG", "LEN", "x"],
    ["SLOWLOG", "RESET", "x"], ["SLOWLOG", "GET", "-2"], ["SLOWLOG", "GET", "-222"],
    ["SLOWLOG", "GET", "abc"], ["SLOWLOG", "GET", "1", "2"], ["SLOWLOG", "foo"],
    ["SLOWLOG", "GET", "9223372036854775808"],
])
def test_slowlog_differential(both, args):
    both(*args)


def test_slowlog_entries(raw):
    c = raw()
    c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "0")
    c.cmd("CONFIG", "SET", "slowlog-max-len", "128")
    try:
        c.cmd("CLIENT", "SETNAME", "sl-client")
        c.cmd("SLOWLOG", "RESET")
        c.cmd("SET", "a", "x" * 129)
        c.cmd(*(["DEL"] + ["k%d" % i for i in range(40)]))
        c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "-1")
        log = c.cmd("SLOWLOG", "GET", "-1")
        assert log.startswith(b"*3\r\n")   # the CONFIG SET that disabled it is not logged
        addr = ("%s:%d" % c.sock.getsockname()).encode()
        # newest first: config set, del, set, slowlog reset
        assert b"$23\r\n... (10 more arguments)\r\n" in log
        assert b"x" * 128 + b"... (1 more bytes)" in log
        assert log.count(b"$%d\r\n%s\r\n" % (len(addr), addr)) == 3
        assert log.count(b"$9\r\nsl-client\r\n") == 3
        assert num(c.cmd("SLOWLOG", "LEN")) == 3
        assert c.cmd("SLOWLOG", "GET", "0") == b"*0\r\n"
        assert c.cmd("SLOWLOG", "GET", "1").startswith(b"*1\r\n*6\r\n")
        ids = re.findall(rb"\*6\r\n:(\d+)\r\n", log)
        assert [int(x) for x in ids] == sorted((int(x) for x in ids), reverse=True)
        c.cmd("CONFIG", "SET", "slowlog-max-len", "2")
        assert num(c.cmd("SLOWLOG", "LEN")) == 2
        assert c.cmd("SLOWLOG", "RESET") == b"+OK\r\n"
        assert num(c.cmd("SLOWLOG", "LEN")) == 0
    finally:
        c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        c.cmd("CONFIG", "SET", "slowlog-max-len", "128")


def test_slowlog_exec_not_logged(raw):
    c = raw()
    c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "0")
    try:
        c.cmd("SLOWLOG", "RESET")
        c.cmd("MULTI")
        c.cmd("PING")
        c.cmd("EXEC")
        c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "-1")
        log = c.cmd("SLOWLOG", "GET")
        assert b"exec" not in log.lower().replace(b"exec\r\n$", b"")
        assert b"$4\r\nPING\r\n" in log and b"$5\r\nMULTI\r\n" in log
    finally:
        c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "10000")


# -- LATENCY ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["LATENCY"], ["LATENCY", "HELP"], ["LATENCY", "help", "xxx"], ["LATENCY", "foo"],
    ["LATENCY", "HISTORY"], ["LATENCY", "HISTORY", "blabla"], ["LATENCY", "GRAPH", "blabla"],
    ["LATENCY", "LATEST", "x"], ["LATENCY", "DOCTOR", "x"], ["LATENCY", "RESET", "blabla"],
    ["LATENCY", "HISTOGRAM", "blabla", "blabla2"],
])
def test_latency_differential(both, args):
    both(*args)
    both.resp3()
    both(*args)


def test_latency_histogram(raw):
    c = raw()
    c.cmd("CONFIG", "RESETSTAT")
    h = c.cmd("LATENCY", "HISTOGRAM")
    assert h.startswith(b"*2\r\n$16\r\nconfig|resetstat\r\n*4\r\n$5\r\ncalls\r\n:1\r\n")
    c.cmd("CONFIG", "RESETSTAT")
    c.cmd("SET", "a", "b")
    c.cmd("SET", "c", "d")
    c.cmd("CLIENT", "ID")
    c.cmd("CLIENT", "LIST")
    h = c.cmd("LATENCY", "HISTOGRAM", "set", "client", "nosuch")
    assert h.startswith(b"*6\r\n$3\r\nset\r\n*4\r\n$5\r\ncalls\r\n:2\r\n$14\r\nhistogram_usec\r\n")
    assert b"$9\r\nclient|id\r\n" in h and b"$11\r\nclient|list\r\n" in h
    h = c.cmd("LATENCY", "HISTOGRAM", "client|id")
    assert h.startswith(b"*2\r\n$9\r\nclient|id\r\n")
    c.cmd("HELLO", "3")
    h = c.cmd("LATENCY", "HISTOGRAM", "set")
    m = re.match(rb"^%1\r\n\$3\r\nset\r\n%2\r\n\$5\r\ncalls\r\n:2\r\n\$14\r\nhistogram_usec"
                 rb"\r\n%(\d+)\r\n((?::\d+\r\n:\d+\r\n)+)$", h)
    assert m, h
    pairs = re.findall(rb":(\d+)\r\n:(\d+)\r\n", m.group(2))
    assert int(pairs[-1][1]) == 2
    assert all(int(u) in (1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454,
                          16908, 33816, 67633, 135266, 270532, 541065, 1082130)
               for u, _ in pairs)


def test_latency_tracking_off(raw):
    c = raw()
    c.cmd("CONFIG", "SET", "latency-tracking", "no")
    try:
        c.cmd("CONFIG", "RESETSTAT")
        c.cmd("PING")
        assert c.cmd("LATENCY", "HISTOGRAM") == b"*0\r\n"
        assert b"latency_percentiles" not in c.cmd("INFO", "latencystats")
    finally:
        c.cmd("CONFIG", "SET", "latency-tracking", "yes")


def test_latency_doctor_disabled(both):
    both("LATENCY", "RESET")
    both("LATENCY", "DOCTOR")
    both("LATENCY", "LATEST")


# -- FUNCTION (empty library set) ---------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["FUNCTION", "HELP"], ["FUNCTION", "FLUSH"], ["FUNCTION", "FLUSH", "SYNC"],
    ["FUNCTION", "FLUSH", "async"], ["FUNCTION", "FLUSH", "foo"], ["FUNCTION", "FLUSH", "a", "b"],
    ["FUNCTION", "LIST"], ["FUNCTION", "LIST", "WITHCODE"], ["FUNCTION", "LIST", "LIBRARYNAME"],
    ["FUNCTION", "LIST", "LIBRARYNAME", "x*", "WITHCODE"], ["FUNCTION", "LIST", "foo"],
    ["FUNCTION", "LIST", "WITHCODE", "WITHCODE"], ["FUNCTION", "STATS"], ["FUNCTION", "STATS", "x"],
    ["FUNCTION", "DELETE", "lib"], ["FUNCTION", "KILL"], ["FUNCTION", "DUMP"],
    ["FUNCTION", "RESTORE", "bad"], ["FUNCTION", "RESTORE", "x", "foo"],
    ["FUNCTION", "RESTORE", "x", "a", "b"],
    ["FUNCTION", "RESTORE", b"\x0a\x00\x5d\x9b\x5c\x40\x0f\x7f\xa2\xda"],
    ["FUNCTION", "RESTORE", b"\x0a\x00\x5d\x9b\x5c\x40\x0f\x7f\xa2\xda", "FLUSH"],
    ["FUNCTION", "RESTORE", b"\x0b\x00\x5d\x9b\x5c\x40\x0f\x7f\xa2\xda"],
])
def test_function_differential(both, args):
    both(*args)
    both.resp3()
    both(*args)


# -- DEBUG (its own servers with enable-debug-command yes) ----------------------------------------------
@pytest.fixture(scope="module")
def dbg(tmp_path_factory):
    a = start_redislet(tmp_path_factory.mktemp("dbg-redislet"), "--enable-debug-command", "yes")
    b = start_real_redis(tmp_path_factory.mktemp("dbg-redis"), "--enable-debug-command", "yes")
    yield a, b
    a.stop()
    b.stop()


@pytest.mark.parametrize("args", [
    ["DEBUG", "HELP"], ["DEBUG", "foo"], ["DEBUG", "SLEEP"], ["DEBUG", "SLEEP", "0"],
    ["DEBUG", "SLEEP", "abc"], ["DEBUG", "SET-ACTIVE-EXPIRE", "1"], ["DEBUG", "OBJECT", "nokey"],
    ["DEBUG", "PROTOCOL", "string"], ["DEBUG", "PROTOCOL", "integer"],
    ["DEBUG", "PROTOCOL", "double"], ["DEBUG", "PROTOCOL", "bignum"],
    ["DEBUG", "PROTOCOL", "null"], ["DEBUG", "PROTOCOL", "array"], ["DEBUG", "PROTOCOL", "set"],
    ["DEBUG", "PROTOCOL", "map"], ["DEBUG", "PROTOCOL", "attrib"], ["DEBUG", "PROTOCOL", "push"],
    ["DEBUG", "PROTOCOL", "true"], ["DEBUG", "PROTOCOL", "false"],
    ["DEBUG", "PROTOCOL", "verbatim"], ["DEBUG", "PROTOCOL", "nosuch"],
    ["DEBUG", "CHANGE-REPL-ID"], ["DEBUG", "CHANGE-REPL-ID", "x"], ["DEBUG", "LOG", "hello"],
    ["DEBUG", "ERROR", "MYERR custom"], ["DEBUG", "PAUSE-CRON", "0"],
    ["DEBUG", "STRINGMATCH-TEST", "x"],
])
def test_debug_differential(dbg, args):
    a, b = Raw(dbg[0].port), Raw(dbg[1].port)
    try:
        assert a.cmd(*args) == b.cmd(*args)
        a.cmd("HELLO", "3")
        b.cmd("HELLO", "3")
        assert a.cmd(*args) == b.cmd(*args)
    finally:
        a.close()
        b.close()


def test_debug_object_format(dbg):
    c = Raw(dbg[0].port)
    c.cmd("SET", "dk", "12345")
    r = c.cmd("DEBUG", "OBJECT", "dk")
    assert re.match(rb"^\+Value at:0x[0-9a-f]+ refcount:\d+ encoding:int serializedlength:\d+ "
                    rb"lru:\d+ lru_seconds_idle:\d+\r\n$", r), r
    c.close()


def test_debug_sleep_slowlog_and_latency(dbg):
    c = Raw(dbg[0].port)
    c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "100000")
    c.cmd("CONFIG", "SET", "latency-monitor-threshold", "50")
    c.cmd("CLIENT", "SETNAME", "foobar")
    c.cmd("SLOWLOG", "RESET")
    c.cmd("LATENCY", "RESET")
    t0 = time.time()
    assert c.cmd("DEBUG", "SLEEP", "0.2") == b"+OK\r\n"
    assert time.time() - t0 >= 0.19
    e = c.cmd("SLOWLOG", "GET")
    assert b"$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$3\r\n0.2\r\n" in e and e.endswith(b"$6\r\nfoobar\r\n")
    usec = int(re.match(rb"^\*1\r\n\*6\r\n:\d+\r\n:\d+\r\n:(\d+)\r\n", e).group(1))
    assert usec > 190000
    latest = c.cmd("LATENCY", "LATEST")
    m = re.match(rb"^\*1\r\n\*4\r\n\$7\r\ncommand\r\n:(\d+)\r\n:(\d+)\r\n:(\d+)\r\n$", latest)
    assert m and 190 <= int(m.group(2)) <= 400 and m.group(2) == m.group(3)
    hist = c.cmd("LATENCY", "HISTORY", "command")
    assert hist.startswith(b"*1\r\n*2\r\n")
    graph = bulk_text(c.cmd("LATENCY", "GRAPH", "command")).decode()
    assert graph.startswith("command - high %s ms, low %s ms (all time high %s ms)\n"
                            % (m.group(2).decode(), m.group(2).decode(), m.group(3).decode()))
    assert "-" * 80 + "\n" in graph and "_" in graph
    doctor = bulk_text(c.cmd("LATENCY", "DOCTOR")).decode()
    assert doctor.startswith("Dave, I have observed latency spikes in this Redis instance.")
    assert "1. command: 1 latency spikes" in doctor
    assert num(c.cmd("LATENCY", "RESET", "COMMAND")) == 1
    assert c.cmd("LATENCY", "LATEST") == b"*0\r\n"
    c.close()


def test_debug_set_active_expire(dbg):
    c = Raw(dbg[0].port)
    c.cmd("FLUSHALL")
    c.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        c.cmd("SET", "ae", "1", "PX", "10")
        time.sleep(0.3)
        assert num(c.cmd("DBSIZE")) == 1
        c.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        deadline = time.time() + 3
        while num(c.cmd("DBSIZE")) and time.time() < deadline:
            time.sleep(0.05)
        assert num(c.cmd("DBSIZE")) == 0
    finally:
        c.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        c.close()


def test_config_set_bind_unbindable_address(tmp_path):
    """CONFIG SET bind to an address that cannot be bound: applyBind's error, and the
    old listeners still serve."""
    outs = []
    for start in (start_redislet, start_real_redis):
        d = tmp_path / start.__name__
        d.mkdir()
        s = start(d)
        try:
            r = Raw(s.port)
            outs.append([r.cmd("CONFIG", "SET", "bind", "999.999.999.999"),
                         Raw(s.port).cmd("PING")])
        finally:
            s.stop()
    assert outs[0] == outs[1]
