"""Blocking list commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP): differential scenarios
run step by step on redislet and real Redis with several connections each, plus what the
serving of blocked clients propagates (embedded server)."""
import time

import pytest

import redislet
from conftest import Raw, encode_command


class Side:
    """n connections to one server."""

    def __init__(self, port, n, resp3):
        self.port = port
        self.conns = [Raw(port) for _ in range(n)]
        self.ctl = Raw(port)
        if resp3:
            for c in self.conns:
                c.cmd("HELLO", "3")

    def blocked(self):
        info = self.ctl.cmd("INFO", "clients").decode()
        for line in info.split("\r\n"):
            if line.startswith("blocked_clients:"):
                return int(line.split(":")[1])
        raise AssertionError(info)

    def close(self):
        for c in self.conns + [self.ctl]:
            c.close()


class Scenario:
    """The same steps on both servers: cmd(i, ...) runs a command on connection i and
    compares replies, send(i, ...) only sends, read(i) reads and compares."""

    def __init__(self, server, real, n, resp3=False):
        self.sides = [Side(server.port, n, resp3), Side(real.port, n, resp3)]
        self.sides[0].conns[0].cmd("FLUSHALL")
        self.sides[1].conns[0].cmd("FLUSHALL")

    def cmd(self, i, *args):
        out = [s.conns[i].cmd(*args) for s in self.sides]
        assert out[0] == out[1], "%r: redislet %r != redis %r" % (args, out[0], out[1])
        return out[0]

    def send(self, i, *args):
        for s in self.sides:
            s.conns[i].send(encode_command(args))

    def send_raw(self, i, data):
        for s in self.sides:
            s.conns[i].send(data)

    def read(self, i):
        out = [s.conns[i].read_reply() for s in self.sides]
        assert out[0] == out[1], "redislet %r != redis %r" % (out[0], out[1])
        return out[0]

    def wait_blocked(self, n):
        for s in self.sides:
            deadline = time.time() + 5
            while s.blocked() != n:
                assert time.time() < deadline, "blocked_clients never reached %d" % n
                time.sleep(0.002)

    def nothing_pending(self, i):
        for s in self.sides:
            c = s.conns[i]
            c.sock.settimeout(0.05)
            try:
                data = c.sock.recv(100)
            except OSError:
                data = b""
            finally:
                c.sock.settimeout(5)
            assert data == b"" and c.buf == b"", data

    def close(self):
        for s in self.sides:
            s.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def sc(request, server, real):
    made = []

    def make(n):
        s = Scenario(server, real, n, resp3=request.param == 3)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


@pytest.mark.parametrize("cmd", [
    ("BLPOP", "k", "0"), ("BRPOP", "k", "0"), ("BLMPOP", "0", "1", "k", "LEFT"),
    ("BLMPOP", "0", "1", "k", "RIGHT", "COUNT", "2"), ("BLMOVE", "k", "d", "LEFT", "RIGHT", "0"),
    ("BLMOVE", "k", "d", "RIGHT", "LEFT", "0"), ("BRPOPLPUSH", "k", "d", "0"),
])
def test_block_then_served(sc, cmd):
    s = sc(2)
    s.send(0, *cmd)
    s.wait_blocked(1)
    s.nothing_pending(0)
    s.cmd(1, "RPUSH", "k", "a", "b", "c")
    s.read(0)
    s.wait_blocked(0)
    s.cmd(1, "LRANGE", "k", "0", "-1")
    s.cmd(1, "LRANGE", "d", "0", "-1")


@pytest.mark.parametrize("cmd", [
    ("BLPOP", "k1", "k2", "k3", "0"), ("BRPOP", "k1", "k2", "k3", "0"),
    ("BLMPOP", "0", "3", "k1", "k2", "k3", "LEFT", "COUNT", "10"),
])
def test_several_keys(sc, cmd):
    s = sc(2)
    s.send(0, *cmd)
    s.wait_blocked(1)
    s.cmd(1, "RPUSH", "k2", "x", "y")
    s.read(0)
    s.cmd(1, "RPUSH", "k3", "z")
    s.cmd(1, "RPUSH", "k1", "w")
    # data already there: first non-empty key in argument order
    s.cmd(0, *cmd)
    s.cmd(0, *cmd)
    s.cmd(1, "KEYS", "*")


def test_fifo_service(sc):
    s = sc(5)
    for i in range(3):
        s.send(i, "BLPOP", "k", "0")
        s.wait_blocked(i + 1)
    s.send(3, "BRPOP", "other", "k", "0")
    s.wait_blocked(4)
    s.cmd(4, "LPUSH", "k", "a", "b")     # serves 0 and 1, in arrival order
    s.read(0)
    s.read(1)
    s.wait_blocked(2)
    s.nothing_pending(2)
    s.cmd(4, "RPUSH", "k", "c", "d", "e")
    s.read(2)
    s.read(3)
    s.cmd(4, "LRANGE", "k", "0", "-1")


def test_same_key_several_times(sc):
    s = sc(2)
    s.send(0, "BLPOP", "l1", "l2", "l2", "l1", "0")
    s.wait_blocked(1)
    s.cmd(1, "LPUSH", "l1", "a")
    s.read(0)
    s.send(0, "BLPOP", "l1", "l2", "l2", "l1", "0")
    s.wait_blocked(1)
    s.cmd(1, "LPUSH", "l2", "b")
    s.read(0)
    s.wait_blocked(0)


@pytest.mark.parametrize("cmd", [
    ("BLPOP", "k", "0.05"), ("BRPOP", "a", "k", "0.01"), ("BLMPOP", "0.02", "1", "k", "LEFT"),
    ("BLMOVE", "k", "d", "LEFT", "LEFT", "0.01"), ("BRPOPLPUSH", "k", "d", "0.001"),
])
def test_timeout_reply(sc, cmd):
    s = sc(1)
    s.cmd(0, *cmd)
    s.cmd(0, "PING")


@pytest.mark.parametrize("t", ["-1", "-0.5", "abc", "", " 1", "1 ", "1_0", "nan", "inf",
                               "-inf", "1e30", "9.3e15", "1e16", "1e5000", "1e-5000",
                               "+inf", "0x10", "-0", "-0.0001", "1e-400", "0.1", "3",
                               "9223372036854775807", "18446744073709551616", "0x1p-3"])
def test_timeout_parsing(sc, t):
    """Inside MULTI a blocking command never blocks: the parse result shows at once."""
    s = sc(1)
    s.cmd(0, "MULTI")
    s.cmd(0, "BLPOP", "k", t)
    s.cmd(0, "BLMOVE", "k", "d", "LEFT", "LEFT", t)
    s.cmd(0, "BRPOPLPUSH", "k", "d", t)
    s.cmd(0, "BLMPOP", t, "1", "k", "LEFT")
    s.cmd(0, "BLMPOP", t, "0", "k", "LEFT")
    s.cmd(0, "EXEC")
    if t in ("-1", "-0.5", "-inf", "abc", "", " 1", "nan", "inf", "1e30"):
        s.cmd(0, "BLPOP", "k", t)


def test_errors_before_blocking(sc):
    s = sc(1)
    s.cmd(0, "SET", "s", "v")
    s.cmd(0, "BLPOP", "nokey", "s", "0")
    s.cmd(0, "BRPOP", "s", "nokey", "0")
    s.cmd(0, "BLMPOP", "0", "2", "nokey", "s", "LEFT")
    s.cmd(0, "BLMOVE", "s", "d", "LEFT", "LEFT", "0")
    s.cmd(0, "BLMOVE", "k", "d", "UP", "LEFT", "0")
    s.cmd(0, "BLMOVE", "k", "d", "LEFT", "LEFT", "-1")
    s.cmd(0, "BRPOPLPUSH", "s", "d", "0")
    s.cmd(0, "RPUSH", "k", "a")
    s.cmd(0, "BLMOVE", "k", "s", "LEFT", "LEFT", "0")
    s.cmd(0, "BRPOPLPUSH", "k", "s", "0")
    s.cmd(0, "LRANGE", "k", "0", "-1")
    s.cmd(0, "BLPOP", "k")
    s.cmd(0, "BLMPOP", "0", "1", "k", "LEFT", "COUNT", "0")


def test_inside_multi(sc):
    s = sc(1)
    s.cmd(0, "RPUSH", "x", "foo", "bar")
    s.cmd(0, "MULTI")
    for _ in range(3):
        s.cmd(0, "BLPOP", "x", "0")
    s.cmd(0, "BRPOPLPUSH", "x", "t", "0")
    s.cmd(0, "BLMOVE", "x", "t", "LEFT", "LEFT", "0")
    s.cmd(0, "BLMPOP", "0", "1", "x", "LEFT")
    s.cmd(0, "BRPOP", "x", "0")
    s.cmd(0, "EXEC")


def test_multi_is_isolated(sc):
    s = sc(2)
    s.send(0, "BLPOP", "list", "0")
    s.wait_blocked(1)
    s.cmd(1, "MULTI")
    for v in ("a", "b", "c"):
        s.cmd(1, "LPUSH", "list", v)
    s.cmd(1, "EXEC")
    s.read(0)
    s.cmd(1, "LRANGE", "list", "0", "-1")


@pytest.mark.parametrize("extra", [(), (("SET", "list", "foo"),)])
@pytest.mark.parametrize("pop", [("BLPOP", "list", "0"),
                                 ("BLMPOP", "0", "1", "list", "LEFT", "COUNT", "1")])
def test_push_and_del_in_multi_wakes_nobody(sc, pop, extra):
    s = sc(2)
    s.send(0, *pop)
    s.wait_blocked(1)
    s.cmd(1, "MULTI")
    s.cmd(1, "LPUSH", "list", "a")
    s.cmd(1, "DEL", "list")
    for e in extra:
        s.cmd(1, *e)
    s.cmd(1, "EXEC")
    s.wait_blocked(1)
    s.nothing_pending(0)
    s.cmd(1, "DEL", "list")
    s.cmd(1, "LPUSH", "list", "b")
    s.read(0)


def test_wrong_type_written_does_not_wake(sc):
    s = sc(2)
    s.send(0, "BLPOP", "k", "0")
    s.wait_blocked(1)
    s.cmd(1, "SET", "k", "v")
    s.cmd(1, "DEL", "k")
    s.cmd(1, "SADD", "k", "m")
    s.wait_blocked(1)
    s.nothing_pending(0)
    s.cmd(1, "DEL", "k")
    s.cmd(1, "RPUSH", "k", "x")
    s.read(0)


def test_rename_into_place(sc):
    s = sc(2)
    s.send(0, "BLPOP", "foo", "0")
    s.wait_blocked(1)
    s.cmd(1, "LPUSH", "bob", "abc", "def", "hij")
    s.cmd(1, "RENAME", "bob", "foo")
    s.read(0)
    s.cmd(1, "LRANGE", "foo", "0", "-1")


def test_pipelined_commands_wait(sc):
    """A blocked client processes nothing else until served; its queued commands then run."""
    s = sc(2)
    s.send_raw(0, encode_command(("BLPOP", "k", "0")) + encode_command(("PING",))
               + encode_command(("LPUSH", "k", "again")) + encode_command(("BLPOP", "k", "0"))
               + encode_command(("GET", "nokey")))
    s.wait_blocked(1)
    s.nothing_pending(0)
    s.cmd(1, "RPUSH", "k", "v")
    for _ in range(5):
        s.read(0)
    s.wait_blocked(0)
    s.cmd(1, "EXISTS", "k")


def test_blmpop_multiple_clients(sc):
    s = sc(5)
    s.send(0, "BLMPOP", "0", "2", "b1", "b2", "LEFT", "COUNT", "1")
    s.wait_blocked(1)
    s.send(1, "BLMPOP", "0", "2", "b1", "b2", "RIGHT", "COUNT", "10")
    s.wait_blocked(2)
    s.send(2, "BLMPOP", "0", "2", "b1", "b2", "LEFT", "COUNT", "10")
    s.wait_blocked(3)
    s.send(3, "BLMPOP", "0", "2", "b1", "b2", "RIGHT", "COUNT", "1")
    s.wait_blocked(4)
    s.cmd(4, "MULTI")
    s.cmd(4, "LPUSH", "b1", "a", "b", "c", "d", "e")
    s.cmd(4, "LPUSH", "b2", "1", "2", "3", "4", "5")
    s.cmd(4, "EXEC")
    for i in range(3):
        s.read(i)
    s.wait_blocked(1)
    s.cmd(4, "LPUSH", "b2", "1", "2", "3")
    s.read(3)
    s.cmd(4, "LRANGE", "b2", "0", "-1")


def test_linked_lmoves(sc):
    s = sc(3)
    s.send(0, "BLMOVE", "list1", "list2", "RIGHT", "LEFT", "0")
    s.wait_blocked(1)
    s.send(1, "BLMOVE", "list2", "list3", "LEFT", "RIGHT", "0")
    s.wait_blocked(2)
    s.cmd(2, "RPUSH", "list1", "foo")
    s.read(0)
    s.read(1)
    for k in ("list1", "list2", "list3"):
        s.cmd(2, "LRANGE", k, "0", "-1")


def test_circular_and_self_referential(sc):
    s = sc(3)
    s.send(0, "BRPOPLPUSH", "list1", "list2", "0")
    s.wait_blocked(1)
    s.send(1, "BRPOPLPUSH", "list2", "list1", "0")
    s.wait_blocked(2)
    s.cmd(2, "RPUSH", "list1", "foo")
    s.read(0)
    s.read(1)
    s.cmd(2, "LRANGE", "list1", "0", "-1")
    s.cmd(2, "LRANGE", "list2", "0", "-1")
    s.send(0, "BRPOPLPUSH", "blist", "blist", "0")
    s.wait_blocked(1)
    s.send(1, "BLMOVE", "blist", "blist", "LEFT", "RIGHT", "0")
    s.wait_blocked(2)
    s.cmd(2, "RPUSH", "blist", "foo", "bar")
    s.read(0)
    s.read(1)
    s.cmd(2, "LRANGE", "blist", "0", "-1")


@pytest.mark.parametrize("wf", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("wt", ["LEFT", "RIGHT"])
def test_blmove_feeds_blpop(sc, wf, wt):
    s = sc(3)
    s.send(1, "BLPOP", "target", "0")
    s.wait_blocked(1)
    s.send(0, "BLMOVE", "blist", "target", wf, wt, "0")
    s.wait_blocked(2)
    s.cmd(2, "RPUSH", "blist", "foo")
    s.read(0)
    s.read(1)
    s.cmd(2, "EXISTS", "target")
    s.cmd(2, "EXISTS", "blist")


def test_brpoplpush_wrong_destination(sc):
    s = sc(3)
    s.cmd(2, "SET", "target1", "nolist")
    s.send(0, "BRPOPLPUSH", "blist", "target1", "0")
    s.wait_blocked(1)
    s.send(1, "BRPOPLPUSH", "blist", "target2", "0")
    s.wait_blocked(2)
    s.cmd(2, "LPUSH", "blist", "foo")
    s.read(0)
    s.read(1)
    s.cmd(2, "LRANGE", "target2", "0", "-1")
    s.send(0, "BLMOVE", "blist", "target1", "LEFT", "LEFT", "0")
    s.wait_blocked(1)
    s.cmd(2, "RPUSH", "blist", "a", "b", "c")
    s.read(0)
    s.cmd(2, "LRANGE", "blist", "0", "-1")


def test_watch_and_blocked_moves(sc):
    s = sc(3)
    s.cmd(2, "SET", "somekey", "somevalue")
    s.send(0, "BRPOPLPUSH", "src", "dst", "0")
    s.wait_blocked(1)
    s.cmd(1, "WATCH", "dst")
    s.cmd(1, "MULTI")
    s.cmd(1, "GET", "somekey")
    s.cmd(2, "LPUSH", "src", "element")
    s.read(0)
    s.cmd(1, "EXEC")     # the push into dst invalidated the WATCH
    s.send(0, "BRPOPLPUSH", "src", "dst2", "0")
    s.wait_blocked(1)
    s.cmd(1, "WATCH", "dst2")
    s.cmd(1, "MULTI")
    s.cmd(1, "GET", "somekey")
    s.cmd(1, "EXEC")     # still blocked: untouched
    s.cmd(2, "LPUSH", "src", "element")
    s.read(0)


@pytest.mark.parametrize("how", [(), ("TIMEOUT",), ("ERROR",)])
@pytest.mark.parametrize("cmd", [("BLPOP", "k", "0"), ("BLMOVE", "k", "d", "LEFT", "LEFT", "0"),
                                 ("BLMPOP", "0", "1", "k", "LEFT")])
def test_client_unblock(sc, how, cmd):
    s = sc(2)
    ids = [int(side.conns[0].cmd("CLIENT", "ID")[1:-2]) for side in s.sides]
    s.send(0, *cmd)
    s.wait_blocked(1)
    out = [side.conns[1].cmd("CLIENT", "UNBLOCK", str(cid), *how)
           for side, cid in zip(s.sides, ids)]
    assert out[0] == out[1] == b":1\r\n"
    s.read(0)
    s.wait_blocked(0)
    s.cmd(0, "PING")


def test_disconnect_while_blocked(server):
    c = Raw(server.port)
    w = Raw(server.port)
    w.send(encode_command(("BLPOP", "gone", "0")))
    deadline = time.time() + 5
    while b"blocked_clients:1" not in c.cmd("INFO", "clients"):
        assert time.time() < deadline
        time.sleep(0.002)
    w.close()
    while b"blocked_clients:0" not in c.cmd("INFO", "clients"):
        assert time.time() < deadline
        time.sleep(0.002)
    assert c.cmd("RPUSH", "gone", "x") == b":1\r\n"
    assert c.cmd("LLEN", "gone") == b":1\r\n"
    c.cmd("DEL", "gone")
    c.close()


def test_zero_timeout_blocks(server):
    c = Raw(server.port)
    w = Raw(server.port)
    w.send(encode_command(("BRPOP", "z0", "0")))
    time.sleep(0.3)
    assert b"blocked_clients:1" in c.cmd("INFO", "clients")
    c.cmd("RPUSH", "z0", "v")
    assert w.read_reply() == b"*2\r\n$2\r\nz0\r\n$1\r\nv\r\n"
    c.close()
    w.close()


def test_served_propagation_embedded():
    """A push that serves blocked clients is propagated first, then each served pop as the
    non-blocking command (blocked.c serveClientBlockedOnList)."""
    srv = redislet.Server()
    srv.start()
    try:
        log = []
        srv.server.propagate_targets.append(lambda dbid, argv: log.append(list(argv)))
        c = Raw(srv.port)
        ws = [Raw(srv.port) for _ in range(5)]

        def park(i, *cmd):
            ws[i].send(encode_command(cmd))
            deadline = time.time() + 5
            while b"blocked_clients:%d" % (i + 1) not in c.cmd("INFO", "clients"):
                assert time.time() < deadline
                time.sleep(0.002)
        park(0, "BLPOP", "k", "0")
        park(1, "BRPOP", "k", "0")
        park(2, "BLMPOP", "0", "1", "k", "LEFT", "COUNT", "5")
        park(3, "BLMOVE", "k", "d", "RIGHT", "LEFT", "0")
        park(4, "BRPOPLPUSH", "k", "d", "0")
        c.cmd("RPUSH", "k", "a", "b", "c", "d", "e", "f", "g", "h")
        replies = [w.read_reply() for w in ws[:4]]
        assert replies == [b"*2\r\n$1\r\nk\r\n$1\r\na\r\n", b"*2\r\n$1\r\nk\r\n$1\r\nh\r\n",
                           b"*2\r\n$1\r\nk\r\n*5\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
                           b"$1\r\ne\r\n$1\r\nf\r\n", b"$1\r\ng\r\n"]
        assert log == [
            [b"RPUSH", b"k", b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h"],
            [b"LPOP", b"k"],
            [b"RPOP", b"k"],
            [b"LPOP", b"k", b"5"],
            [b"LMOVE", b"k", b"d", b"right", b"left"],
        ]
        # the last client is still blocked (k is gone): serve it
        c.cmd("RPUSH", "k", "z")
        assert ws[4].read_reply() == b"$1\r\nz\r\n"
        assert log[-2:] == [[b"RPUSH", b"k", b"z"], [b"RPOPLPUSH", b"k", b"d"]]
        # a transaction that pushes and deletes propagates no pop
        del log[:]
        park(0, "BLPOP", "q", "0")
        c.cmd("MULTI")
        c.cmd("LPUSH", "q", "x")
        c.cmd("DEL", "q")
        c.cmd("EXEC")
        assert [a[0] for a in log] == [b"MULTI", b"LPUSH", b"DEL", b"EXEC"]
        c.cmd("LPUSH", "q", "y")
        assert ws[0].read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\ny\r\n"
        assert log[-1] == [b"LPOP", b"q"]
        for w in ws:
            w.close()
        c.close()
    finally:
        srv.stop()


def test_served_notifications(server, real):
    """Events of pushes that serve blocked clients, in order, on both servers."""
    results = []
    for port in (server.port, real.port):
        c, sub = Raw(port), Raw(port)
        ws = [Raw(port) for _ in range(4)]
        c.cmd("FLUSHALL")
        c.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub.cmd("PSUBSCRIBE", "__key*__:*")
        cmds = [("BLPOP", "k", "0"), ("BLMPOP", "0", "1", "k", "RIGHT", "COUNT", "2"),
                ("BLMOVE", "k", "d", "LEFT", "RIGHT", "0"), ("BRPOPLPUSH", "d", "e", "0")]
        for i, cmd in enumerate(cmds):
            ws[i].send(encode_command(cmd))
            deadline = time.time() + 5
            while b"blocked_clients:%d" % (i + 1) not in c.cmd("INFO", "clients"):
                assert time.time() < deadline
                time.sleep(0.002)
        c.cmd("RPUSH", "k", "a", "b", "c", "d", "e")
        replies = [w.read_reply() for w in ws]
        c.cmd("PING")
        sub.send(b"*1\r\n$4\r\nPING\r\n")
        events = []
        while True:
            r = sub.read_reply()
            if r.startswith(b"*2\r\n$4\r\npong") or r == b"+PONG\r\n":
                break
            events.append(r)
        c.cmd("CONFIG", "SET", "notify-keyspace-events", "")
        results.append((replies, events))
        for x in ws + [c, sub]:
            x.close()
    assert len(results[1][1]) > 10
    assert results[0] == results[1]
