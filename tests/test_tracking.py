"""CLIENT TRACKING / CACHING / TRACKINGINFO / GETREDIR (client-side caching, tracking.c):
differential scenarios against a real redis-server, compared byte for byte."""
import re

import pytest

from conftest import Raw


def drain(conn):
    """Everything conn received before a PING's reply (push messages, pub/sub messages)."""
    conn.send(b"*1\r\n$4\r\nPING\r\n")
    out = []
    while True:
        r = conn.read_reply()
        if r in (b"+PONG\r\n", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"):
            return b"".join(out)
        out.append(r)


def _norm(b, ids):
    for real, name in ids.items():
        b = re.sub(rb":%d\r\n" % real, b":<%s>\r\n" % name.encode(), b)
    return b


def run_both(server, real, scenario):
    res = []
    for port in (server.port, real.port):
        conns = []

        def conn():
            c = Raw(port)
            conns.append(c)
            return c
        first = conn()
        first.cmd("FLUSHALL")
        ids = {}
        out = scenario(conn, ids)
        res.append([_norm(x, ids) for x in out])
        for c in conns:
            c.close()
    assert res[0] == res[1]
    return res[0]


def cid(c, ids, name):
    i = int(c.cmd("CLIENT", "ID")[1:-2])
    ids[i] = name
    return i


def test_default_mode_resp3(server, real):
    def sc(conn, ids):
        a, b = conn(), conn()
        out = [a.cmd("HELLO", "3")[:0], a.cmd("CLIENT", "TRACKING", "ON"), a.cmd("SET", "k", "1"),
               a.cmd("GET", "k")]
        b.cmd("SET", "k", "2")
        out.append(drain(a))
        b.cmd("SET", "k", "3")          # not read again: no second invalidation
        out.append(drain(a))
        out.append(a.cmd("GET", "k"))
        a.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n4\r\n")  # own write: after the reply
        out.append(a.read_reply() + a.read_reply())
        a.cmd("MGET", "k", "x", "y")
        out.append(a.cmd("HGETALL", "h"))
        b.cmd("DEL", "x", "y", "h", "k")
        out.append(drain(a))
        out.append(a.cmd("CLIENT", "TRACKINGINFO"))
        out.append(a.cmd("CLIENT", "GETREDIR"))
        out.append(a.cmd("CLIENT", "LIST", "ID", str(cid(a, ids, "a"))).split(b" flags=")[1][:3])
        return out
    run_both(server, real, sc)


def test_transaction_and_flush(server, real):
    def sc(conn, ids):
        a, b = conn(), conn()
        a.cmd("HELLO", "3")
        a.cmd("CLIENT", "TRACKING", "ON")
        out = []
        a.cmd("MGET", "k", "x")
        a.cmd("MULTI")
        a.cmd("SET", "k", "5")
        a.cmd("DEL", "x")
        a.send(b"*1\r\n$4\r\nEXEC\r\n")
        out.append(a.read_reply() + a.read_reply())
        a.cmd("GET", "k")
        a.send(b"*1\r\n$8\r\nFLUSHALL\r\n")
        out.append(a.read_reply() + a.read_reply())
        b.cmd("FLUSHDB")
        out.append(drain(a))
        out.append(a.cmd("INFO", "stats").count(b"tracking_total_keys:0"))
        return out
    run_both(server, real, sc)


def test_errors(server, real):
    def sc(conn, ids):
        a, r = conn(), conn()
        rid = cid(r, ids, "r")
        out = []
        for args in [("CLIENT", "TRACKING", "ON", "PREFIX", "a"),
                     ("CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"),
                     ("CLIENT", "TRACKING", "ON", "REDIRECT", "99999"),
                     ("CLIENT", "TRACKING", "ON", "REDIRECT", "x"),
                     ("CLIENT", "TRACKING", "ON", "REDIRECT", rid, "REDIRECT", rid),
                     ("CLIENT", "TRACKING", "ON", "FOO"),
                     ("CLIENT", "TRACKING", "ON", "REDIRECT"),
                     ("CLIENT", "TRACKING", "MAYBE"),
                     ("CLIENT", "TRACKING"),
                     ("CLIENT", "CACHING", "YES"),
                     ("CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"),
                     ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a"),
                     ("CLIENT", "TRACKING", "ON", "OPTIN"),
                     ("CLIENT", "CACHING", "NO"),
                     ("CLIENT", "CACHING", "MAYBE"),
                     ("CLIENT", "CACHING", "YES"),
                     ("CLIENT", "TRACKINGINFO"),
                     ("CLIENT", "TRACKING", "ON", "OPTOUT"),
                     ("CLIENT", "TRACKING", "ON", "BCAST"),
                     ("CLIENT", "TRACKING", "OFF"),
                     ("CLIENT", "TRACKING", "ON", "OPTOUT"),
                     ("CLIENT", "CACHING", "YES"),
                     ("CLIENT", "CACHING", "NO"),
                     ("CLIENT", "TRACKINGINFO"),
                     ("CLIENT", "TRACKING", "OFF"),
                     ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "c"),
                     ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "abc"),
                     ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "d", "NOLOOP"),
                     ("CLIENT", "TRACKING", "ON"),
                     ("CLIENT", "TRACKINGINFO"),
                     ("CLIENT", "GETREDIR"),
                     ("CLIENT", "TRACKING", "OFF"),
                     ("CLIENT", "TRACKINGINFO"),
                     ("CLIENT", "GETREDIR")]:
            out.append(a.cmd(*args))
        return out
    run_both(server, real, sc)


def test_bcast(server, real):
    def sc(conn, ids):
        a, b = conn(), conn()
        a.cmd("HELLO", "3")
        out = [a.cmd("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "c",
                     "PREFIX", "d", "NOLOOP")]
        b.cmd("MSET", "abx", "1", "cz", "2", "q", "3", "dd", "4", "ab0", "5")
        out.append(drain(a))
        a.cmd("SET", "dd", "5")
        b.cmd("SET", "ab1", "5")
        out.append(drain(a))
        b.cmd("HELLO", "3")
        out.append(b.cmd("CLIENT", "TRACKING", "ON", "BCAST"))
        a.cmd("SET", "zz", "1")
        out.append(drain(b))
        out.append(drain(a))
        out.append(a.cmd("INFO", "stats").count(b"tracking_total_prefixes:4"))
        return out
    run_both(server, real, sc)


def test_redirect_resp2_pubsub_and_broken(server, real):
    def sc(conn, ids):
        a, b, red = conn(), conn(), conn()
        rid = cid(red, ids, "red")
        out = [red.cmd("SUBSCRIBE", "__redis__:invalidate"),
               b.cmd("CLIENT", "TRACKING", "ON", "REDIRECT", rid)]
        b.cmd("GET", "r1")
        a.cmd("SET", "r1", "x")
        out.append(drain(red))
        b.cmd("GET", "r1")
        b.cmd("FLUSHALL")
        out.append(drain(red))
        out.append(b.cmd("CLIENT", "TRACKINGINFO"))
        out.append(b.cmd("CLIENT", "GETREDIR"))
        b.cmd("GET", "r1")
        red.cmd("QUIT")
        red.close()
        a.cmd("SET", "r1", "y")
        out.append(drain(b))                   # RESP2: nothing to say
        out.append(b.cmd("CLIENT", "TRACKINGINFO"))
        b.cmd("HELLO", "3")
        b.cmd("GET", "r1")
        a.cmd("SET", "r1", "z")
        out.append(drain(b))
        out.append(b.cmd("CLIENT", "TRACKINGINFO"))
        return out
    run_both(server, real, sc)


def test_optin_optout_and_reset(server, real):
    def sc(conn, ids):
        a, b = conn(), conn()
        a.cmd("HELLO", "3")
        out = [a.cmd("CLIENT", "TRACKING", "ON", "OPTIN")]
        a.cmd("GET", "i1")
        a.cmd("CLIENT", "CACHING", "YES")
        a.cmd("GET", "i2")
        a.cmd("GET", "i3")                     # CACHING applies to one command only
        b.cmd("MSET", "i1", "1", "i2", "2", "i3", "3")
        out.append(drain(a))
        a.cmd("CLIENT", "TRACKING", "OFF")
        a.cmd("CLIENT", "TRACKING", "ON", "OPTOUT")
        a.cmd("CLIENT", "CACHING", "NO")
        a.cmd("GET", "o1")
        a.cmd("GET", "o2")
        b.cmd("MSET", "o1", "1", "o2", "2")
        out.append(drain(a))
        a.cmd("RESET")
        out.append(a.cmd("CLIENT", "TRACKINGINFO"))
        return out
    run_both(server, real, sc)


def test_noloop_default_mode(server, real):
    def sc(conn, ids):
        a, b = conn(), conn()
        a.cmd("HELLO", "3")
        out = [a.cmd("CLIENT", "TRACKING", "ON", "NOLOOP")]
        a.cmd("MGET", "n1", "n2")
        out.append(a.cmd("SET", "n1", "x"))
        b.cmd("SET", "n2", "y")
        out.append(drain(a))
        return out
    run_both(server, real, sc)


@pytest.mark.parametrize("n", [1])
def test_table_limit(server, real, n):
    def sc(conn, ids):
        a, c = conn(), conn()
        a.cmd("HELLO", "3")
        a.cmd("CLIENT", "TRACKING", "ON")
        a.cmd("MGET", "t1", "t2", "t3")
        c.cmd("CONFIG", "SET", "tracking-table-max-keys", str(n))
        a.send(b"*1\r\n$4\r\nPING\r\n")
        pushes = 0
        while True:
            r = a.read_reply()
            if r == b"+PONG\r\n":
                break
            pushes += 1
        c.cmd("CONFIG", "SET", "tracking-table-max-keys", "0")
        return [b"%d" % pushes]
    run_both(server, real, sc)


def test_bcast_noloop_lazy_expired_key_in_multi(server, real):
    """A key the NOLOOP client itself wrote, then lazily expired in the same transaction:
    the expiry (signalModifiedKey with no client) is what the broadcast reports."""
    def sc(conn, ids):
        a, red = conn(), conn()
        rid = cid(red, ids, "red")
        red.cmd("SUBSCRIBE", "__redis__:invalidate")
        out = [a.cmd("CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", str(rid), "NOLOOP")]
        a.cmd("MULTI")
        a.cmd("SET", "mykey{t}", "myval", "px", "1")
        a.cmd("SET", "mykeyotherkey{t}", "myval")
        a.cmd("DEBUG", "SLEEP", "0.1")
        a.cmd("GET", "mykey{t}")
        out.append(a.cmd("EXEC"))
        out.append(red.read_reply())
        return out
    run_both(server, real, sc)
