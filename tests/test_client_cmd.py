"""CLIENT subcommands: differential error/shape tests against real Redis, and behaviour
tests (LIST format, KILL filters, REPLY modes, PAUSE, UNBLOCK)."""
import re
import socket
import time

import pytest

from conftest import Raw, encode_command

LINE_RE = re.compile(
    r"^id=(\d+) addr=([^ ]+):(\d+) laddr=([^ ]+):(\d+) fd=(\d+) name=(\S*) age=(\d+) "
    r"idle=(\d+) flags=(\S+) db=(\d+) sub=(\d+) psub=(\d+) ssub=(\d+) multi=(-?\d+) "
    r"qbuf=(\d+) qbuf-free=(\d+) argv-mem=(\d+) multi-mem=(\d+) rbs=(\d+) rbp=(\d+) obl=0 "
    r"oll=0 omem=(\d+) tot-mem=(\d+) events=r cmd=(\S+) user=(\S+) redir=(-?\d+) "
    r"resp=([23])$")


@pytest.fixture
def raw(raw):
    """Connections that the server has accepted (one PING round trip)."""
    def make():
        c = raw()
        assert c.cmd("PING") == b"+PONG\r\n"
        return c
    return make


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split(" "))


def client_lines(conn, *args):
    reply = conn.cmd("CLIENT", "LIST", *args)
    body = reply.split(b"\r\n", 1)[1][:-2].decode()
    if body.startswith("txt:"):
        body = body[4:]
    return [ln for ln in body.split("\n") if ln]


# -- differential: errors and fixed replies ----------------------------------------------
@pytest.mark.parametrize("args", [
    ["CLIENT"], ["CLIENT", "FOO"], ["CLIENT", "KILL"], ["CLIENT", "KILL", "ID", "10", "x"],
    ["CLIENT", "KILL", "ID", "str", "skipme", "no"], ["CLIENT", "KILL", "ID", "-1", "a", "b"],
    ["CLIENT", "KILL", "ID", "0", "a", "b"], ["CLIENT", "KILL", "TYPE", "wrong_type", "a", "b"],
    ["CLIENT", "KILL", "USER", "wrong_user"], ["CLIENT", "KILL", "USER", "wrong_user", "a", "b"],
    ["CLIENT", "KILL", "SKIPME", "yes_or_no"], ["CLIENT", "KILL", "1.2.3.4:5"],
    ["CLIENT", "KILL", "ID", "99999"], ["CLIENT", "KILL", "ADDR", "1.1.1.1:1"],
    ["CLIENT", "KILL", "LADDR", "1.1.1.1:1", "TYPE", "pubsub"],
    ["CLIENT", "KILL", "USER", "default", "TYPE", "master"],
    ["CLIENT", "KILL", "ID", "1", "ID"], ["CLIENT", "KILL", "ADDR"],
    ["CLIENT", "LIST", "TYPE", "foo"], ["CLIENT", "LIST", "foo"],
    ["CLIENT", "LIST", "TYPE", "pubsub", "x"], ["CLIENT", "LIST", "ID"],
    ["CLIENT", "LIST", "ID", "1", "x"], ["CLIENT", "LIST", "ID", "99999"],
    ["CLIENT", "LIST", "TYPE", "PUBSUB"], ["CLIENT", "LIST", "TYPE", "master"],
    ["CLIENT", "LIST", "TYPE", "replica"], ["CLIENT", "LIST", "TYPE", "slave"],
    ["CLIENT", "REPLY", "foo"], ["CLIENT", "REPLY"], ["CLIENT", "REPLY", "on", "x"],
    ["CLIENT", "REPLY", "ON"],
    ["CLIENT", "NO-EVICT", "maybe"], ["CLIENT", "NO-EVICT", "on"], ["CLIENT", "NO-EVICT", "OFF"],
    ["CLIENT", "NO-EVICT"],
    ["CLIENT", "PAUSE"], ["CLIENT", "PAUSE", "abc"], ["CLIENT", "PAUSE", "-1"],
    ["CLIENT", "PAUSE", "10", "foo"], ["CLIENT", "PAUSE", "foo", "foo"],
    ["CLIENT", "PAUSE", "10", "all", "x"], ["CLIENT", "PAUSE", "9223372036854775807"],
    ["CLIENT", "PAUSE", "1.5"], ["CLIENT", "PAUSE", "0"], ["CLIENT", "UNPAUSE"],
    ["CLIENT", "UNPAUSE", "x"],
    ["CLIENT", "UNBLOCK"], ["CLIENT", "UNBLOCK", "abc"], ["CLIENT", "UNBLOCK", "1", "foo"],
    ["CLIENT", "UNBLOCK", "abc", "foo"], ["CLIENT", "UNBLOCK", "abc", "error"],
    ["CLIENT", "UNBLOCK", "99999"], ["CLIENT", "UNBLOCK", "99999", "TIMEOUT"],
    ["CLIENT", "UNBLOCK", "1", "2", "3"],
    ["CLIENT", "SETNAME", "foo bar"], ["CLIENT", "SETNAME", "a\nb"],
    ["CLIENT", "SETNAME", "\x7f"], ["CLIENT", "SETNAME", "ok-name~!"],
    ["CLIENT", "SETNAME"], ["CLIENT", "SETNAME", ""], ["CLIENT", "GETNAME"],
    ["CLIENT", "GETNAME", "x"], ["CLIENT", "GETREDIR"], ["CLIENT", "TRACKINGINFO"],
    ["CLIENT", "HELP"], ["CLIENT", "help", "x"], ["CLIENT", "ID", "x"], ["CLIENT", "INFO", "x"],
    ["CLIENT", "SETINFO", "LIB-NAME", "x"], ["CLIENT", "NO-TOUCH", "on"],
])
def test_client_differential(both, args):
    both(*args)
    both.resp3()
    both(*args)


def test_client_getname_setname(both):
    both("CLIENT", "GETNAME")
    both("CLIENT", "SETNAME", "myname")
    both("CLIENT", "GETNAME")
    both("CLIENT", "SETNAME", "")
    both("CLIENT", "GETNAME")
    both.resp3()
    both("CLIENT", "GETNAME")
    both("HELLO", "3", "SETNAME", "x y")
    both.a.cmd("HELLO", "3", "SETNAME", "abc")
    both.b.cmd("HELLO", "3", "SETNAME", "abc")
    both("CLIENT", "GETNAME")


def test_client_trackinginfo_resp3(both):
    both.resp3()
    both("CLIENT", "TRACKINGINFO")
    both("CLIENT", "GETREDIR")


# -- CLIENT ID / INFO / LIST --------------------------------------------------------------
def test_client_list_format(raw):
    c = raw()
    lines = client_lines(c)
    mine = [ln for ln in lines if "cmd=client|list" in ln]
    assert mine
    m = LINE_RE.match(mine[-1])
    assert m, mine[-1]
    f = fields(mine[-1])
    assert f["flags"] == "N" and f["qbuf"] == "26" and f["multi"] == "-1"
    assert f["argv-mem"] == "10" and f["resp"] == "2" and f["user"] == "default"
    assert f["laddr"].endswith(":%d" % c.sock.getpeername()[1])
    local = c.sock.getsockname()
    assert f["addr"] == "%s:%d" % local


def test_client_info_and_id(raw):
    c = raw()
    cid = int(c.cmd("CLIENT", "ID")[1:-2])
    reply = c.cmd("CLIENT", "INFO")
    text = reply.split(b"\r\n", 1)[1][:-2].decode()
    assert text.endswith("\n")
    line = text[:-1]
    assert LINE_RE.match(line), line
    f = fields(line)
    assert int(f["id"]) == cid and f["cmd"] == "client|info"
    c.cmd("HELLO", "3")
    reply = c.cmd("CLIENT", "INFO")
    assert reply.startswith(b"=")
    assert b"txt:id=%d " % cid in reply and b" resp=3\n" in reply


def test_client_list_id_and_type(raw):
    a, b = raw(), raw()
    ida = int(a.cmd("CLIENT", "ID")[1:-2])
    idb = int(b.cmd("CLIENT", "ID")[1:-2])
    lines = client_lines(a, "ID", str(idb), str(ida), "999999")
    assert [int(fields(ln)["id"]) for ln in lines] == [idb, ida]
    b.cmd("SUBSCRIBE", "chan")
    pub = client_lines(a, "TYPE", "pubsub")
    assert [int(fields(ln)["id"]) for ln in pub] == [idb]
    f = fields(pub[0])
    assert f["flags"] == "P" and f["sub"] == "1" and f["cmd"] == "subscribe"
    normal = client_lines(a, "TYPE", "normal")
    assert idb not in [int(fields(ln)["id"]) for ln in normal]
    assert client_lines(a, "TYPE", "master") == []


def test_client_list_flags_multi_and_name(raw):
    a, b = raw(), raw()
    idb = int(b.cmd("CLIENT", "ID")[1:-2])
    b.cmd("CLIENT", "SETNAME", "worker")
    b.cmd("MULTI")
    b.cmd("SET", "a", "b")
    b.cmd("GET", "a")
    f = fields(client_lines(a, "ID", str(idb))[0])
    assert f["flags"] == "x" and f["multi"] == "2" and f["name"] == "worker"
    assert f["multi-mem"] == "49"
    b.cmd("DISCARD")
    b.cmd("SELECT", "3")
    f = fields(client_lines(a, "ID", str(idb))[0])
    assert f["flags"] == "N" and f["multi"] == "-1" and f["db"] == "3"


def test_client_list_after_close(raw):
    a, b = raw(), raw()
    b.cmd("CLIENT", "SETNAME", "goner")
    assert any("name=goner" in ln for ln in client_lines(a))
    b.close()
    for _ in range(100):
        if not any("name=goner" in ln for ln in client_lines(a)):
            break
        time.sleep(0.02)
    else:
        pytest.fail("closed client still listed")


def test_client_no_evict_flag(raw):
    a = raw()
    assert a.cmd("CLIENT", "NO-EVICT", "on") == b"+OK\r\n"
    assert "flags=e " in a.cmd("CLIENT", "INFO").decode()
    assert a.cmd("CLIENT", "NO-EVICT", "off") == b"+OK\r\n"
    assert "flags=N " in a.cmd("CLIENT", "INFO").decode()


# -- CLIENT KILL ----------------------------------------------------------------------------
def _closed(conn, timeout=2):
    conn.sock.settimeout(timeout)
    try:
        data = conn.sock.recv(100)
        return data == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_client_kill_old_form(raw):
    a, b = raw(), raw()
    local = "%s:%d" % b.sock.getsockname()
    assert a.cmd("CLIENT", "KILL", local) == b"+OK\r\n"
    assert _closed(b)
    assert a.cmd("CLIENT", "KILL", local) == b"-ERR No such client\r\n"
    # the old form can kill the caller itself: the reply comes first
    mine = "%s:%d" % a.sock.getsockname()
    assert a.cmd("CLIENT", "KILL", mine) == b"+OK\r\n"
    assert _closed(a)


def test_client_kill_filters(raw):
    a, b, c = raw(), raw(), raw()
    idb = int(b.cmd("CLIENT", "ID")[1:-2])
    assert a.cmd("CLIENT", "KILL", "ID", str(idb)) == b":1\r\n"
    assert _closed(b)
    assert a.cmd("CLIENT", "KILL", "ID", str(idb)) == b":0\r\n"
    c.cmd("SUBSCRIBE", "x")
    assert a.cmd("CLIENT", "KILL", "TYPE", "pubsub") == b":1\r\n"
    assert _closed(c)
    d = raw()
    laddr = "%s:%d" % d.sock.getpeername()
    addr = "%s:%d" % d.sock.getsockname()
    assert a.cmd("CLIENT", "KILL", "ADDR", addr, "LADDR", "9.9.9.9:1") == b":0\r\n"
    assert a.cmd("CLIENT", "KILL", "ADDR", addr, "LADDR", laddr, "USER", "default") == b":1\r\n"
    assert _closed(d)
    # SKIPME: the caller is skipped by default even when it matches
    mine = "%s:%d" % a.sock.getsockname()
    assert a.cmd("CLIENT", "KILL", "ADDR", mine) == b":0\r\n"
    assert a.cmd("CLIENT", "KILL", "ADDR", mine, "SKIPME", "no") == b":1\r\n"
    assert _closed(a)


def test_client_kill_skipme_all(tmp_path):
    from conftest import start_redislet
    s = start_redislet(tmp_path)
    try:
        conns = [Raw(s.port) for _ in range(4)]
        for x in conns:
            x.cmd("PING")
        assert conns[0].cmd("CLIENT", "KILL", "SKIPME", "yes") == b":3\r\n"
        for x in conns[1:]:
            assert _closed(x)
        more = [Raw(s.port) for _ in range(2)]
        for x in more:
            x.cmd("PING")
        assert conns[0].cmd("CLIENT", "KILL", "SKIPME", "no") == b":3\r\n"
        assert _closed(conns[0])
        fresh = Raw(s.port)
        assert fresh.cmd("PING") == b"+PONG\r\n"
        info = fresh.cmd("INFO", "clients").decode()
        assert "connected_clients:1\r\n" in info
    finally:
        s.stop()


# -- CLIENT REPLY -----------------------------------------------------------------------------
def test_client_reply_off_on(raw):
    c = raw()
    c.send(b"CLIENT REPLY OFF\r\nPING pong\r\nPING pong2\r\nCLIENT REPLY ON\r\nPING pong3\r\n")
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"$5\r\npong3\r\n"


def test_client_reply_skip(raw):
    c = raw()
    c.send(b"CLIENT REPLY SKIP\r\nPING pong\r\nPING pong2\r\n")
    assert c.read_reply() == b"$5\r\npong2\r\n"
    c.send(b"CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\n")
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"+PONG\r\n"
    # SKIP while OFF stays OFF; errors are silenced too
    c.send(b"CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nFOO\r\nPING a\r\nCLIENT REPLY ON\r\n")
    assert c.read_reply() == b"+OK\r\n"


def test_client_reply_differential(both):
    for data in [b"CLIENT REPLY SKIP\r\nPING a\r\nPING b\r\n",
                 b"CLIENT REPLY OFF\r\nPING a\r\nCLIENT REPLY SKIP\r\nPING c\r\n"
                 b"CLIENT REPLY ON\r\nPING d\r\n",
                 b"CLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nPING a\r\nPING b\r\n"]:
        a, b = both.send_raw(data)
        assert a == b, data


# -- CLIENT PAUSE ------------------------------------------------------------------------------
def _blocked_clients(conn):
    info = conn.cmd("INFO", "clients").decode()
    return int(re.search(r"blocked_clients:(\d+)", info).group(1))


def _wait_blocked(conn, n, timeout=3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if _blocked_clients(conn) == n:
            return
        time.sleep(0.01)
    raise AssertionError("blocked_clients != %d" % n)


def test_pause_write_lets_reads_through(raw):
    admin, c = raw(), raw()
    assert admin.cmd("CLIENT", "PAUSE", "100000", "WRITE") == b"+OK\r\n"
    try:
        assert c.cmd("GET", "FOO") == b"$-1\r\n"
        assert c.cmd("PING") == b"+PONG\r\n"
        assert _blocked_clients(admin) == 0
        c.send(b"SET FOO BAR\r\nGET FOO\r\n")
        _wait_blocked(admin, 1)
        f = [fields(ln) for ln in client_lines(admin) if "cmd=" in ln]
        assert any(x["flags"] == "b" for x in f)
    finally:
        assert admin.cmd("CLIENT", "UNPAUSE") == b"+OK\r\n"
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"$3\r\nBAR\r\n"
    assert _blocked_clients(admin) == 0


def test_pause_all_and_expiry(raw):
    admin, c = raw(), raw()
    t0 = time.time()
    assert admin.cmd("CLIENT", "PAUSE", "300") == b"+OK\r\n"
    c.send(b"PING\r\nECHO x\r\n")
    assert c.read_reply() == b"+PONG\r\n"
    assert c.read_reply() == b"$1\r\nx\r\n"
    assert time.time() - t0 >= 0.28


def test_pause_multi_exec_with_write(raw):
    admin, c, rr = raw(), raw(), raw()
    c.cmd("MULTI")
    c.cmd("SET", "pk", "1")
    admin.cmd("CLIENT", "PAUSE", "60000", "WRITE")
    try:
        # a read-only transaction is not paused
        assert rr.cmd("MULTI") == b"+OK\r\n"
        assert rr.cmd("PING") == b"+QUEUED\r\n"
        assert rr.cmd("EXEC") == b"*1\r\n+PONG\r\n"
        c.send(b"EXEC\r\n")
        _wait_blocked(admin, 1)
    finally:
        admin.cmd("CLIENT", "UNPAUSE")
    assert c.read_reply() == b"*1\r\n+OK\r\n"


def test_pause_keeps_order(raw):
    admin, c = raw(), raw()
    admin.cmd("CLIENT", "PAUSE", "60000", "WRITE")
    try:
        c.send(b"SET po a\r\nAPPEND po b\r\nGET po\r\nDEL po\r\n")
        _wait_blocked(admin, 1)
        time.sleep(0.05)
        _wait_blocked(admin, 1)
    finally:
        admin.cmd("CLIENT", "UNPAUSE")
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b":2\r\n"
    assert c.read_reply() == b"$2\r\nab\r\n"
    assert c.read_reply() == b":1\r\n"


def test_pause_most_restrictive_wins(raw):
    admin, c = raw(), raw()
    t0 = time.time()
    admin.cmd("CLIENT", "PAUSE", "300", "ALL")
    admin.send(b"CLIENT PAUSE 10 WRITE\r\n")   # itself paused; keeps ALL and the later end
    assert c.cmd("PING") == b"+PONG\r\n"
    assert time.time() - t0 >= 0.28
    assert admin.read_reply() == b"+OK\r\n"
    t1 = time.time()
    assert c.cmd("SET", "pw", "1") == b"+OK\r\n"
    assert time.time() - t1 < 0.25


def test_paused_client_disconnect(raw):
    admin, c = raw(), raw()
    admin.cmd("CLIENT", "PAUSE", "60000", "WRITE")
    try:
        c.send(b"SET pd 1\r\n")
        _wait_blocked(admin, 1)
        c.close()
        time.sleep(0.05)
        assert _blocked_clients(admin) == 0
    finally:
        admin.cmd("CLIENT", "UNPAUSE")


# -- CLIENT UNBLOCK ----------------------------------------------------------------------------
def _blocking_cmd(conn):
    """A blocking command available in this build (lists may not be there yet)."""
    for cmd in (("BLPOP", "ublist", "0"), ("BZPOPMIN", "ubzset", "0"),
                ("XREAD", "BLOCK", "0", "STREAMS", "ubstream", "$")):
        r = conn.cmd("COMMAND", "INFO", cmd[0])
        if not r.startswith(b"*1\r\n*-1") and not r.startswith(b"*1\r\n_") and \
                r != b"*1\r\n$-1\r\n":
            return cmd
    pytest.skip("no blocking command available")


def test_client_unblock_timeout_and_error(raw):
    admin, c = raw(), raw()
    cmd = _blocking_cmd(admin)
    cid = int(c.cmd("CLIENT", "ID")[1:-2])
    c.send(b"".join(b"%s " % a.encode() for a in cmd).strip() + b"\r\n")
    _wait_blocked(admin, 1)
    assert "flags=b " in [ln for ln in client_lines(admin, "ID", str(cid))][0]
    assert admin.cmd("CLIENT", "UNBLOCK", str(cid)) == b":1\r\n"
    assert c.read_reply() in (b"*-1\r\n", b"$-1\r\n")
    assert admin.cmd("CLIENT", "UNBLOCK", str(cid)) == b":0\r\n"
    c.send(b"".join(b"%s " % a.encode() for a in cmd).strip() + b"\r\n")
    _wait_blocked(admin, 1)
    assert admin.cmd("CLIENT", "UNBLOCK", str(cid), "ERROR") == b":1\r\n"
    assert c.read_reply() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    assert c.cmd("PING") == b"+PONG\r\n"
    assert b"errorstat_UNBLOCKED:count=" in admin.cmd("INFO", "errorstats")


def test_client_unblock_not_blocked(raw):
    a, b = raw(), raw()
    idb = int(b.cmd("CLIENT", "ID")[1:-2])
    assert a.cmd("CLIENT", "UNBLOCK", str(idb)) == b":0\r\n"
    assert a.cmd("CLIENT", "UNBLOCK", str(idb), "error") == b":0\r\n"


# -- timeout / maxclients --------------------------------------------------------------------
def test_idle_timeout(raw):
    admin = raw()
    assert admin.cmd("CONFIG", "SET", "timeout", "1") == b"+OK\r\n"
    try:
        idle = raw()
        idle.cmd("PING")
        sub = raw()
        sub.cmd("SUBSCRIBE", "keepalive")
        assert _closed(idle, timeout=4)
        sub.sock.settimeout(0.2)
        with pytest.raises(socket.timeout):
            sub.sock.recv(10)
    finally:
        raw().cmd("CONFIG", "SET", "timeout", "0")


def test_maxclients_runtime(raw, server):
    admin = raw()
    info = admin.cmd("INFO", "clients").decode()
    connected = int(re.search(r"connected_clients:(\d+)", info).group(1))
    assert admin.cmd("CONFIG", "SET", "maxclients", str(connected + 1)) == b"+OK\r\n"
    try:
        ok = raw()
        assert ok.cmd("PING") == b"+PONG\r\n"
        over = Raw(server.port)
        over.sock.settimeout(2)
        data = over.sock.recv(100)
        assert data == b"-ERR max number of clients reached\r\n"
    finally:
        admin.cmd("CONFIG", "SET", "maxclients", "10000")
    assert b"rejected_connections:" in admin.cmd("INFO", "stats")


def test_pause_write_and_scripts(raw):
    """CLIENT PAUSE WRITE judges EVAL/FCALL by the script's declared flags
    (getCommandFlags): no-writes scripts and read-only functions run, scripts without
    flags (may-replicate) or with write flags wait; inside MULTI too."""
    admin, rr, w1, w2, m1 = raw(), raw(), raw(), raw(), raw()
    admin.cmd("SET", "x", "y")
    admin.cmd("FUNCTION", "LOAD", "REPLACE",
              "#!lua name=pf1\nredis.register_function{function_name='pf1', "
              "callback=function() return 'hello' end, flags={'no-writes'}}")
    m1.cmd("MULTI")                  # queued before the pause (queueing is paused too)
    m1.cmd("EVAL", "#!lua\nreturn 13", "0")
    assert admin.cmd("CLIENT", "PAUSE", "60000", "WRITE") == b"+OK\r\n"
    try:
        ro = "#!lua flags=no-writes\nreturn 'unique %f'" % time.time()
        assert rr.cmd("EVAL", ro, "0").startswith(b"$")
        assert rr.cmd("EVAL", ro, "0").startswith(b"$")      # now cached
        assert rr.cmd("EVAL_RO", "return redis.call('GeT', 'x')..' ro %f'" % time.time(),
                      "1", "x").startswith(b"$")
        sha = rr.cmd("SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn 2")[5:-2]
        assert rr.cmd("EVALSHA", sha, "0") == b":2\r\n"
        assert rr.cmd("FCALL", "pf1", "0") == b"$5\r\nhello\r\n"
        assert rr.cmd("MULTI") == b"+OK\r\n"
        assert rr.cmd("EVAL", "#!lua flags=no-writes\nreturn 12", "0") == b"+QUEUED\r\n"
        assert rr.cmd("EXEC") == b"*1\r\n:12\r\n"
        assert _blocked_clients(admin) == 0
        w1.send(encode_command(["EVAL", "return 1", "0"]))
        w2.send(encode_command(["EVAL", "#!lua\nreturn 1", "0"]))
        m1.send(encode_command(["EXEC"]))
        _wait_blocked(admin, 3)
    finally:
        admin.cmd("CLIENT", "UNPAUSE")
        admin.cmd("FUNCTION", "DELETE", "pf1")
    assert w1.read_reply() == b":1\r\n"
    assert w2.read_reply() == b":1\r\n"
    assert m1.read_reply() == b"*1\r\n:13\r\n"
