"""MULTI / EXEC / DISCARD / WATCH / UNWATCH against real Redis 7.0.15 (differential) and
the propagation of transactions (embedded server with a propagation probe)."""
import time

import pytest

from conftest import Raw


def have(port, *names):
    """True when redislet implements every named command (others write them)."""
    c = Raw(port)
    try:
        for n in names:
            if not c.cmd("COMMAND", "INFO", n).startswith(b"*1\r\n*10\r\n"):
                return False
        return True
    finally:
        c.close()


def need(server, *names):
    if not have(server.port, *names):
        pytest.skip("needs %s (not implemented yet)" % ", ".join(names))


class Duo:
    """Pairs of connections, one on redislet and one on real Redis, compared reply by
    reply; several pairs play several clients."""

    def __init__(self, port_a, port_b):
        self.ports = (port_a, port_b)
        self.conns = []

    def client(self, resp3=False):
        pair = Pair(Raw(self.ports[0]), Raw(self.ports[1]))
        self.conns.append(pair)
        if resp3:
            pair("HELLO", "3", check=False)
        return pair

    def close(self):
        for p in self.conns:
            p.a.close()
            p.b.close()


class Pair:
    def __init__(self, a, b):
        self.a = a
        self.b = b

    def __call__(self, *args, check=True):
        ra = self.a.cmd(*args)
        rb = self.b.cmd(*args)
        if check:
            assert ra == rb, "%r: redislet %r != redis %r" % (args, ra, rb)
        return ra

    def send(self, *args):
        from conftest import encode_command
        self.a.send(encode_command(args))
        self.b.send(encode_command(args))

    def drain(self, quiet=0.2):
        """Everything each side sends until it stays quiet; both must match."""
        outs = []
        for conn in (self.a, self.b):
            conn.sock.settimeout(quiet)
            got, conn.buf = conn.buf, b""
            try:
                while True:
                    chunk = conn.sock.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except OSError:
                pass
            conn.sock.settimeout(5)
            outs.append(got)
        assert outs[0] == outs[1], "redislet %r != redis %r" % tuple(outs)
        return outs[0]

    def read_unordered(self, n):
        """n replies from each side, compared as multisets (Redis delivers to several
        patterns in hash-table order)."""
        ra = sorted(self.a.read_reply() for _ in range(n))
        rb = sorted(self.b.read_reply() for _ in range(n))
        assert ra == rb, "redislet %r != redis %r" % (ra, rb)
        return ra

    def read(self):
        ra = self.a.read_reply()
        rb = self.b.read_reply()
        assert ra == rb, "redislet %r != redis %r" % (ra, rb)
        return ra


@pytest.fixture
def duo(server, real):
    d = Duo(server.port, real.port)
    c = d.client()
    c("FLUSHALL", check=False)
    yield d
    d.close()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def proto(request):
    return request.param


# -- basics ------------------------------------------------------------------------------
def test_multi_exec_basics(duo, proto):
    c = duo.client(proto == 3)
    assert c("MULTI") == b"+OK\r\n"
    assert c("PING") == b"+QUEUED\r\n"
    c("ECHO", "hello")
    c("PING", "x")
    assert c("EXEC") == b"*3\r\n+PONG\r\n$5\r\nhello\r\n$1\r\nx\r\n"


def test_empty_transaction(duo, proto):
    c = duo.client(proto == 3)
    c("MULTI")
    assert c("EXEC") == b"*0\r\n"


def test_discard(duo, proto):
    c = duo.client(proto == 3)
    c("MULTI")
    c("HSET", "h", "f", "v")
    assert c("DISCARD") == b"+OK\r\n"
    c("HGET", "h", "f")
    c("EXISTS", "h", check=False)


def test_errors_without_multi(duo, proto):
    c = duo.client(proto == 3)
    assert c("EXEC") == b"-ERR EXEC without MULTI\r\n"
    assert c("DISCARD") == b"-ERR DISCARD without MULTI\r\n"
    c("EXEC", "x")
    c("DISCARD", "x")
    c("UNWATCH")
    c("UNWATCH", "x")
    c("WATCH")
    c("MULTI", "x")


def test_nested_multi(duo):
    c = duo.client()
    c("MULTI")
    assert c("MULTI") == b"-ERR MULTI calls can not be nested\r\n"
    c("PING")
    assert c("EXEC") == b"*1\r\n+PONG\r\n"   # nested MULTI does not abort


def test_watch_inside_multi(duo):
    c = duo.client()
    c("MULTI")
    assert c("WATCH", "x") == b"-ERR WATCH inside MULTI is not allowed\r\n"
    c("PING")
    c("EXEC")


def test_execabort_unknown_command(duo, proto):
    c = duo.client(proto == 3)
    c("MULTI")
    c("PING")
    c("NOSUCHCOMMAND", "a", "b")
    c("PING")
    assert c("EXEC") == (b"-EXECABORT Transaction discarded because of previous "
                         b"errors.\r\n")
    # the client left MULTI
    assert c("PING") == b"+PONG\r\n"
    c("EXEC")


def test_execabort_arity(duo):
    c = duo.client()
    c("MULTI")
    c("HSET", "h")
    c("HGET")
    c("EXEC")
    c("HGET", "h", "f")


def test_execabort_unknown_subcommand(duo):
    c = duo.client()
    c("MULTI")
    c("CONFIG", "NOSUCHSUB")
    c("EXEC")


def test_exec_rejected_itself(duo):
    c = duo.client()
    c("MULTI")
    c("PING")
    assert c("EXEC", "extra") == (b"-EXECABORT Transaction discarded because of: wrong "
                                  b"number of arguments for 'exec' command\r\n")
    c("EXEC")
    c("EXEC", "extra")
    c("DISCARD")


def test_no_multi_commands_refused(duo):
    c = duo.client()
    c("MULTI")
    c("WATCH", "x")
    c("SUBSCRIBE", "ch")   # allowed (queued)
    c("DISCARD")
    if have(duo.ports[0], "save"):
        c("MULTI")
        assert c("SAVE") == b"-ERR Command not allowed inside a transaction\r\n"
        c("EXEC")


def test_runtime_errors_do_not_abort(duo, proto):
    c = duo.client(proto == 3)
    c("HSET", "h", "f", "notanumber")
    c("MULTI")
    c("HINCRBY", "h", "f", "1")
    c("HSET", "h", "g", "1")
    c("HINCRBY", "h", "g", "5")
    c("HINCRBYFLOAT", "h", "f", "1")
    out = c("EXEC")
    assert out.startswith(b"*4\r\n-ERR hash value is not an integer\r\n:1\r\n:6\r\n")
    c("HGETALL", "h")


def test_queued_reply_and_multi_state_cleared(duo):
    c = duo.client()
    c("MULTI")
    c("NOSUCHCOMMAND")
    c("EXEC")
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*1\r\n+PONG\r\n"


def test_many_queued(duo):
    c = duo.client()
    c("MULTI")
    for i in range(200):
        c("HSET", "big", "f%d" % i, str(i))
    c("EXEC")
    c("HLEN", "big")


# -- WATCH -------------------------------------------------------------------------------
def test_watch_unmodified(duo, proto):
    c = duo.client(proto == 3)
    c("HSET", "h", "f", "1")
    c("WATCH", "h")
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*1\r\n+PONG\r\n"


def test_watch_modified_by_self(duo, proto):
    c = duo.client(proto == 3)
    c("HSET", "h", "f", "1")
    c("WATCH", "h")
    c("HSET", "h", "f", "2")
    c("MULTI")
    c("PING")
    exp = b"_\r\n" if proto == 3 else b"*-1\r\n"
    assert c("EXEC") == exp
    # the key is no longer watched after the failed EXEC
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*1\r\n+PONG\r\n"


def test_watch_modified_by_other_client(duo):
    c = duo.client()
    other = duo.client()
    c("HSET", "h1", "f", "1")
    c("WATCH", "a", "b", "h1", "c", "d")
    other("HSET", "h1", "f", "2")
    c("MULTI")
    c("HSET", "h1", "f", "3")
    assert c("EXEC") == b"*-1\r\n"
    c("HGET", "h1", "f")


def test_watch_missing_key_created(duo):
    c = duo.client()
    other = duo.client()
    c("WATCH", "newkey")
    other("HSET", "newkey", "f", "v")
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*-1\r\n"


def test_watch_noop_write_does_not_touch(duo):
    c = duo.client()
    other = duo.client()
    c("HSET", "h", "f", "1")
    c("WATCH", "h")
    other("HDEL", "h", "nosuchfield")   # no change, no signal
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*1\r\n+PONG\r\n"


def test_watch_delete_of_last_field(duo):
    c = duo.client()
    other = duo.client()
    c("HSET", "h", "f", "1")
    c("WATCH", "h")
    other("HDEL", "h", "f")
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*-1\r\n"


def test_after_successful_exec_key_not_watched(duo):
    c = duo.client()
    c("HSET", "x", "f", "30")
    c("WATCH", "x")
    c("MULTI")
    c("PING")
    c("EXEC")
    c("HSET", "x", "f", "40")
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*1\r\n+PONG\r\n"


def test_unwatch(duo):
    c = duo.client()
    c("HSET", "x", "f", "30")
    c("WATCH", "x")
    c("HSET", "x", "f", "40")
    assert c("UNWATCH") == b"+OK\r\n"   # also clears the dirty flag
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*1\r\n+PONG\r\n"
    assert c("UNWATCH") == b"+OK\r\n"


def test_discard_clears_dirty_and_watches(duo):
    c = duo.client()
    c("WATCH", "x")
    c("HSET", "x", "f", "10")
    c("MULTI")
    c("DISCARD")
    c("MULTI")
    c("HINCRBY", "x", "f", "1")
    assert c("EXEC") == b"*1\r\n:11\r\n"
    c("WATCH", "y")
    c("MULTI")
    c("DISCARD")
    c("HSET", "y", "f", "1")
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*1\r\n+PONG\r\n"


def test_watch_dirty_client_keeps_ok(duo):
    c = duo.client()
    c("WATCH", "a")
    c("HSET", "a", "f", "1")
    assert c("WATCH", "b") == b"+OK\r\n"
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*-1\r\n"


def test_watch_remembers_db(duo):
    need_select(duo)
    c = duo.client()
    c("SELECT", "5")
    c("HSET", "x", "f", "30")
    c("WATCH", "x")
    c("SELECT", "1")
    c("HSET", "x", "f", "10")
    c("SELECT", "5")
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*1\r\n+PONG\r\n"
    c("SELECT", "1")
    c("DEL", "x", check=False)
    c("SELECT", "5")
    c("DEL", "x", check=False)


def need_select(duo):
    if not have(duo.ports[0], "select", "del"):
        pytest.skip("needs SELECT/DEL")


def test_watch_same_key_twice_and_multiple_clients(duo):
    c1 = duo.client()
    c2 = duo.client()
    c3 = duo.client()
    c1("WATCH", "k", "k", "k")
    c2("WATCH", "k")
    c3("HSET", "k", "f", "v")
    for c in (c1, c2):
        c("MULTI")
        c("PING")
        assert c("EXEC") == b"*-1\r\n"


def test_watch_disconnect_cleans_up(duo, server):
    c1 = duo.client()
    c1("WATCH", "k1")
    c1.a.close()
    c1.b.close()
    duo.conns.remove(c1)
    c2 = duo.client()
    c2("HSET", "k1", "f", "v")   # no crash touching a key of a gone client
    c2("PING")


def test_reset_unwatches_and_discards(duo):
    c = duo.client()
    c("WATCH", "k")
    c("MULTI")
    c("PING")
    assert c("RESET") == b"+RESET\r\n"
    c("HSET", "k", "f", "v")
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*1\r\n+PONG\r\n"


def test_flushall_flushdb_touch(duo):
    need(duo_server(duo), "flushall", "flushdb")
    c = duo.client()
    other = duo.client()
    for flush in ("FLUSHALL", "FLUSHDB"):
        c("HSET", "x", "f", "1")
        c("WATCH", "x")
        other(flush)
        c("MULTI")
        c("PING")
        assert c("EXEC") == b"*-1\r\n"
        # keys that do not exist are not touched
        c("WATCH", "nokey")
        other(flush)
        c("MULTI")
        c("PING")
        assert c("EXEC") == b"*1\r\n+PONG\r\n"


def duo_server(duo):
    class S:
        port = duo.ports[0]
    return S


def test_flushall_watching_several_keys(duo):
    need(duo_server(duo), "flushall")
    c = duo.client()
    c("HSET", "a", "f", "a")
    c("HSET", "b", "f", "b")
    c("WATCH", "b", "a")
    c("FLUSHALL")
    c("PING")
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*-1\r\n"


def test_swapdb_touch(duo):
    need(duo_server(duo), "swapdb", "select", "flushall")
    c = duo.client()
    c("FLUSHALL")
    c("SELECT", "1")
    c("HSET", "x", "f", "1")
    c("WATCH", "x")
    c("SWAPDB", "0", "1")
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*-1\r\n"
    # a watched key that does not exist but appears through the swap
    c("FLUSHALL")
    c("SELECT", "0")
    c("HSET", "y", "f", "1")
    c("SELECT", "1")
    c("WATCH", "y")
    c("SWAPDB", "0", "1")
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*-1\r\n"
    c("FLUSHALL")
    c("SELECT", "0")


def test_watch_expire_touches(duo):
    need(duo_server(duo), "set", "expire")
    c = duo.client()
    c("SET", "x", "foo")
    c("WATCH", "x")
    c("EXPIRE", "x", "10")
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*-1\r\n"


@pytest.fixture(scope="module")
def debug_servers(tmp_path_factory):
    """A redislet and a real Redis that allow DEBUG (SET-ACTIVE-EXPIRE)."""
    from conftest import start_redislet, start_real_redis
    a = start_redislet(tmp_path_factory.mktemp("dbg-redislet"), "--enable-debug-command", "yes")
    try:
        b = start_real_redis(tmp_path_factory.mktemp("dbg-redis"), "--enable-debug-command",
                             "yes")
    except BaseException:
        a.stop()
        raise
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture
def dduo(debug_servers):
    a, b = debug_servers
    d = Duo(a.port, b.port)
    yield d
    d.close()


def _stale_setup(duo):
    need(duo_server(duo), "set", "debug", "flushall", "exists")
    c = duo.client()
    c("FLUSHALL")
    c("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    return c


def test_exec_fails_on_expired_watched_key(dduo):
    duo = dduo
    c = _stale_setup(duo)
    try:
        c("SET", "key", "1", "PX", "60")
        c("WATCH", "key")
        time.sleep(0.1)
        c("MULTI")
        c("INCR", "key")
        assert c("EXEC") == b"*-1\r\n"
    finally:
        c("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_watch_stale_keys_do_not_fail(dduo):
    duo = dduo
    c = _stale_setup(duo)
    try:
        c("SET", "x", "foo", "PX", "1")
        time.sleep(0.01)
        c("WATCH", "x")
        c("MULTI")
        c("PING")
        assert c("EXEC") == b"*1\r\n+PONG\r\n"
        # deleting a stale watched key is no change
        c("SET", "x", "foo", "PX", "1")
        time.sleep(0.01)
        c("WATCH", "x")
        assert c("EXISTS", "x") == b":0\r\n"
        c("MULTI")
        c("PING")
        assert c("EXEC") == b"*1\r\n+PONG\r\n"
        # FLUSHDB of a stale watched key is no change
        c("SET", "x", "foo", "PX", "1")
        time.sleep(0.01)
        c("WATCH", "x")
        c("FLUSHDB")
        c("MULTI")
        c("PING")
        assert c("EXEC") == b"*1\r\n+PONG\r\n"
        # but writing a new value to a stale watched key is a change
        c("SET", "x", "foo", "PX", "1")
        time.sleep(0.01)
        c("WATCH", "x")
        c("SET", "x", "bar")
        c("MULTI")
        c("PING")
        c("EXEC")
    finally:
        c("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_swapdb_stale_keys(dduo):
    duo = dduo
    c = _stale_setup(duo)
    need(duo_server(duo), "swapdb", "select")
    try:
        # expired key replaced with no key: no change
        c("SELECT", "1")
        c("SET", "x", "foo", "PX", "1")
        time.sleep(0.01)
        c("WATCH", "x")
        c("SWAPDB", "0", "1")
        c("MULTI")
        c("PING")
        assert c("EXEC") == b"*1\r\n+PONG\r\n"
        # no key replaced with an expired key: no change
        c("FLUSHALL")
        c("SELECT", "0")
        c("SET", "x", "foo", "PX", "1")
        time.sleep(0.01)
        c("SELECT", "1")
        c("WATCH", "x")
        c("SWAPDB", "0", "1")
        c("MULTI")
        c("PING")
        assert c("EXEC") == b"*1\r\n+PONG\r\n"
        # stale key replaced with another stale key: no change
        c("FLUSHALL")
        c("SELECT", "1")
        c("SET", "x", "foo", "PX", "1")
        c("SELECT", "0")
        c("SET", "x", "bar", "PX", "1")
        time.sleep(0.01)
        c("SELECT", "1")
        c("WATCH", "x")
        c("SWAPDB", "0", "1")
        c("MULTI")
        c("PING")
        assert c("EXEC") == b"*1\r\n+PONG\r\n"
    finally:
        c("FLUSHALL")
        c("SELECT", "0")
        c("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_watch_expired_by_active_expire(duo):
    need(duo_server(duo), "set", "pexpire", "dbsize")
    c = duo.client()
    c("SET", "x", "foo")
    c("PEXPIRE", "x", "50")
    c("WATCH", "x")
    deadline = time.time() + 3
    while time.time() < deadline and c.a.cmd("DBSIZE") != b":0\r\n":
        time.sleep(0.02)
    while time.time() < deadline and c.b.cmd("DBSIZE") != b":0\r\n":
        time.sleep(0.02)
    c("MULTI")
    c("PING")
    assert c("EXEC") == b"*-1\r\n"


# -- EXEC semantics ----------------------------------------------------------------------
def test_blocking_commands_do_not_block_in_exec(duo, proto):
    need(duo_server(duo), "blpop", "brpop")
    c = duo.client(proto == 3)
    c("MULTI")
    c("BLPOP", "empty_list", "0")
    c("BRPOP", "empty_list", "0")
    assert c("EXEC") in (b"*2\r\n*-1\r\n*-1\r\n", b"*2\r\n_\r\n_\r\n")


def test_subscribe_inside_multi(duo):
    c = duo.client()
    c("MULTI")
    c("SUBSCRIBE", "ch1")
    c("SSUBSCRIBE", "sch")
    c("PING")
    # RESP2: the subscribe push frames sit inside the EXEC array, as in Redis
    c.send("EXEC")
    assert c.drain().startswith(b"*3\r\n*3\r\n$9\r\nsubscribe\r\n")
    c("UNSUBSCRIBE")


def test_publish_to_self_inside_exec_resp3(duo):
    c = duo.client(resp3=True)
    c("SUBSCRIBE", "me")
    c("MULTI")
    c("PUBLISH", "me", "hello")
    c("PUBLISH", "me", "again")
    c.send("EXEC")
    assert c.drain() == (b"*2\r\n>3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$5\r\nhello\r\n:1\r\n"
                         b">3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$5\r\nagain\r\n:1\r\n")


def test_select_inside_exec(duo):
    need(duo_server(duo), "select")
    c = duo.client()
    c("MULTI")
    c("SELECT", "2")
    c("HSET", "h", "f", "1")
    c("EXEC")
    c("HGET", "h", "f")
    c("SELECT", "0")
    c("HGET", "h", "f")
    c("SELECT", "2")
    c("FLUSHDB", check=False)


def test_pipelined_transaction(duo):
    c = duo.client()
    c.send("MULTI")
    c.send("HSET", "p", "a", "1")
    c.send("BADCMD")
    c.send("EXEC")
    c.send("HGET", "p", "a")
    for _ in range(5):
        c.read()


def test_client_list_multi_field(raw):
    c = raw()
    other = raw()
    c.cmd("CLIENT", "SETNAME", "multicounter")
    c.cmd("MULTI")
    c.cmd("PING")
    c.cmd("PING")
    listing = other.cmd("CLIENT", "LIST")
    c.cmd("DISCARD")
    if listing.startswith(b"-ERR unknown"):
        pytest.skip("CLIENT LIST not implemented yet")
    line = [ln for ln in listing.split(b"\n") if b"name=multicounter" in ln][0]
    assert b" multi=2 " in line and b"flags=x" in line


def test_commandstats_inside_exec(raw):
    c = raw()
    if not c.cmd("CONFIG", "RESETSTAT").startswith(b"+OK"):
        pytest.skip("CONFIG RESETSTAT not implemented yet")
    c.cmd("MULTI")
    c.cmd("HSET", "cs", "f", "v")
    c.cmd("HINCRBY", "cs", "f", "1")
    c.cmd("EXEC")
    info = c.cmd("INFO", "commandstats")
    if info.startswith(b"-"):
        pytest.skip("INFO not implemented yet")
    assert b"cmdstat_hset:calls=1," in info
    assert b"cmdstat_hincrby:calls=1,usec=" in info and b"failed_calls=1" in info
    assert b"cmdstat_exec:calls=1," in info
    assert b"cmdstat_multi:calls=1," in info


def test_monitor_sees_transaction(raw):
    m = raw()
    if m.cmd("MONITOR") != b"+OK\r\n":
        pytest.skip("MONITOR not implemented yet")
    c = raw()
    c.cmd("MULTI")
    c.cmd("PING")
    c.cmd("EXEC")
    c.cmd("MULTI")
    c.cmd("BADCMD")
    c.cmd("EXEC")
    lines = [m.read_reply().lower() for _ in range(5)]
    assert b'"multi"' in lines[0] and b'"ping"' in lines[1] and b'"exec"' in lines[2]
    assert b'"multi"' in lines[3] and b'"exec"' in lines[4]


# -- propagation (embedded server with a probe on the propagation targets) -------------
@pytest.fixture(scope="module")
def embedded():
    from redislet.embed import Server
    srv = Server()
    srv.start()
    log = []
    srv.server.propagate_targets.append(lambda dbid, argv: log.append((dbid, list(argv))))
    yield srv, log
    srv.stop()


def _prop(embedded, *cmds):
    srv, log = embedded
    c = Raw(srv.port)
    replies = [c.cmd(*a) for a in cmds]
    c.close()
    out = list(log)
    log.clear()
    return replies, out


def test_propagation_single_write_not_wrapped(embedded):
    _, out = _prop(embedded, ("MULTI",), ("HSET", "h", "f", "v"), ("EXEC",))
    assert out == [(0, [b"HSET", b"h", b"f", b"v"])]


def test_propagation_multiple_writes_wrapped(embedded):
    _, out = _prop(embedded, ("MULTI",), ("HSET", "a", "f", "1"), ("HGET", "a", "f"),
                   ("HSET", "b", "f", "2"), ("EXEC",))
    assert [a for _, a in out] == [[b"MULTI"], [b"HSET", b"a", b"f", b"1"],
                                   [b"HSET", b"b", b"f", b"2"], [b"EXEC"]]


def test_propagation_with_select(embedded):
    _, out = _prop(embedded, ("MULTI",), ("SELECT", "1"), ("HSET", "a", "f", "1"),
                   ("SELECT", "2"), ("HSET", "b", "f", "2"), ("EXEC",))
    assert out == [(1, [b"MULTI"]), (1, [b"HSET", b"a", b"f", b"1"]),
                   (2, [b"HSET", b"b", b"f", b"2"]), (2, [b"EXEC"])]


def test_propagation_read_only_and_empty(embedded):
    _, out = _prop(embedded, ("MULTI",), ("EXEC",), ("MULTI",), ("HGET", "a", "f"),
                   ("EXEC",), ("MULTI",), ("HDEL", "nokey", "f"), ("EXEC",))
    assert out == []


def test_propagation_publish(embedded):
    _, out = _prop(embedded, ("MULTI",), ("PUBLISH", "bla", "bla"), ("EXEC",))
    assert out == [(0, [b"PUBLISH", b"bla", b"bla"])]


def test_propagation_failed_exec(embedded):
    srv, log = embedded
    c1 = Raw(srv.port)
    c2 = Raw(srv.port)
    c1.cmd("WATCH", "w")
    c2.cmd("HSET", "w", "f", "1")
    log.clear()
    c1.cmd("MULTI")
    c1.cmd("HSET", "w", "f", "2")
    c1.cmd("HSET", "w", "g", "2")
    assert c1.cmd("EXEC") == b"*-1\r\n"
    c1.close()
    c2.close()
    assert log == []
