"""Keyspace notifications: the stream of __keyspace@<db>__ / __keyevent@<db>__ messages
that commands produce, compared with real Redis 7.0.15 for the same commands."""
import time

import pytest

from conftest import Raw
from test_multi import Pair, have

PONG2 = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"


class Notify:
    """A control connection and a PSUBSCRIBEd listener on redislet and on real Redis."""

    def __init__(self, port_a, port_b, resp3=False, pattern="__key*__:*"):
        self.ports = (port_a, port_b)
        self.ctl = Pair(Raw(port_a), Raw(port_b))
        self.ctl("FLUSHALL", check=False)
        self.sub = Pair(Raw(port_a), Raw(port_b))
        if resp3:
            self.sub("HELLO", "3", check=False)
        self.resp3 = resp3
        self.sub("PSUBSCRIBE", pattern)

    def run(self, flags, *cmds, replies=True):
        """Run cmds with notify-keyspace-events=flags; return the messages received
        (asserting both servers sent the same ones in the same order)."""
        names = []
        for c in cmds:
            n = c[0].lower()
            if n in ("xgroup", "object", "config", "client", "debug") and len(c) > 1:
                n += "|" + c[1].lower()
            names.append(n)
        missing = sorted(n for n in set(names) if not have(self.ports[0], n))
        if missing:
            pytest.skip("needs %s (not implemented yet)" % ", ".join(missing))
        self.ctl("CONFIG", "SET", "notify-keyspace-events", flags)
        for c in cmds:
            self.ctl(*c, check=replies)
        return self.collect()

    def collect(self):
        out = []
        for conn in (self.sub.a, self.sub.b):
            conn.send(b"*1\r\n$4\r\nPING\r\n")
            msgs = []
            while True:
                r = conn.read_reply()
                if r in (PONG2, b"+PONG\r\n"):
                    break
                msgs.append(r)
            out.append(msgs)
        assert out[0] == out[1], "redislet %r\n!= redis %r" % (out[0], out[1])
        return [_decode(m) for m in out[0]]

    def close(self):
        self.ctl("CONFIG", "SET", "notify-keyspace-events", "", check=False)
        for p in (self.ctl, self.sub):
            p.a.close()
            p.b.close()


def _decode(frame):
    """pmessage frame -> (channel, payload)."""
    parts = frame.split(b"\r\n")
    return parts[6], parts[8]


@pytest.fixture
def nt(server, real):
    n = Notify(server.port, real.port)
    yield n
    n.close()


@pytest.fixture
def nt3(server, real):
    n = Notify(server.port, real.port, resp3=True)
    yield n
    n.close()


# -- flags -------------------------------------------------------------------------------
def test_keyspace_only(nt):
    msgs = nt.run("KA", ("SET", "foo", "bar"))
    assert msgs == [(b"__keyspace@0__:foo", b"set")]


def test_keyevent_only(nt):
    msgs = nt.run("EA", ("SET", "foo", "bar"))
    assert msgs == [(b"__keyevent@0__:set", b"foo")]


def test_both_kinds(nt):
    msgs = nt.run("KEA", ("SET", "foo", "bar"))
    assert msgs == [(b"__keyspace@0__:foo", b"set"), (b"__keyevent@0__:set", b"foo")]


def test_resp3_listener(nt3):
    msgs = nt3.run("KEA", ("SET", "foo", "bar"), ("DEL", "foo"))
    assert len(msgs) == 4


def test_no_kind_no_messages(nt):
    assert nt.run("A", ("SET", "foo", "bar")) == []
    assert nt.run("K", ("SET", "foo", "bar")) == []
    assert nt.run("", ("SET", "foo", "bar")) == []


def test_masking(nt):
    msgs = nt.run("KEl", ("SET", "foo", "bar"), ("LPUSH", "mylist", "a"))
    assert msgs == [(b"__keyspace@0__:mylist", b"lpush"), (b"__keyevent@0__:lpush", b"mylist")]


def test_masking_other_classes(nt):
    msgs = nt.run("KEh", ("SET", "foo", "bar"), ("SADD", "s", "a"), ("HSET", "h", "f", "v"),
                  ("DEL", "h"))
    assert msgs == [(b"__keyspace@0__:h", b"hset"), (b"__keyevent@0__:hset", b"h")]
    nt.run("Kgs", ("SET", "foo", "bar"), ("SADD", "s", "a"), ("HSET", "h", "f", "v"),
           ("DEL", "h", "s"), ("EXPIRE", "foo", "100"))


def test_new_key_list(nt):
    nt.run("En", ("LPUSH", "l", "x"), ("LPUSH", "l", "y"), ("RPUSH", "l2", "x"))


def test_db_number(nt):
    nt.run("KEA", ("SELECT", "3"), ("SET", "foo", "bar"), ("DEL", "foo"), ("SELECT", "0"))


def test_binary_key(nt):
    nt.run("KEA", ("SET", "a\r\n\x00b", "v"), ("DEL", "a\r\n\x00b"))


def test_config_get_set_flags(server, real):
    p = Pair(Raw(server.port), Raw(real.port))
    try:
        for flags in ("gKE", "$lshzxeKE", "KA", "EA", "AKE", "Kg$lshzxetmdn", "mKE", "n",
                      "", "KEA m", "Q", "ggKK"):
            p("CONFIG", "SET", "notify-keyspace-events", flags)
            p("CONFIG", "GET", "notify-keyspace-events")
    finally:
        p("CONFIG", "SET", "notify-keyspace-events", "", check=False)
        p.a.close()
        p.b.close()


# -- classes -----------------------------------------------------------------------------
def test_generic_events(nt):
    msgs = nt.run("KEg", ("SET", "foo", "bar"), ("EXPIRE", "foo", "100"),
                  ("PEXPIRE", "foo", "100000"), ("PERSIST", "foo"), ("PERSIST", "foo"),
                  ("EXPIREAT", "foo", str(int(time.time()) + 100)),
                  ("RENAME", "foo", "foo2"), ("DEL", "foo2"), ("DEL", "nokey"))
    assert (b"__keyevent@0__:rename_from", b"foo") in msgs
    assert (b"__keyevent@0__:del", b"foo2") in msgs


def test_generic_more(nt):
    nt.run("KEg", ("SET", "a", "1"), ("SET", "b", "2"), ("UNLINK", "a", "b", "c"),
           ("SET", "a", "1"), ("EXPIRE", "a", "-1"), ("SET", "x", "1"),
           ("PEXPIREAT", "x", "1"), ("SET", "y", "1"), ("RENAMENX", "y", "z"),
           ("SET", "y", "2"), ("RENAMENX", "y", "z"), ("RENAME", "z", "z"))


def test_copy_move(nt):
    nt.run("KEA", ("SET", "src", "1"), ("COPY", "src", "dst"), ("COPY", "src", "dst"),
           ("COPY", "src", "dst", "REPLACE"), ("MOVE", "src", "1"), ("SELECT", "1"),
           ("DEL", "src"), ("SELECT", "0"))


def test_string_events(nt):
    nt.run("KE$", ("SET", "s", "v"), ("SETNX", "s", "v"), ("SETNX", "s2", "v"),
           ("APPEND", "s", "x"), ("SETRANGE", "s", "1", "yy"), ("INCR", "n"),
           ("INCRBY", "n", "5"), ("DECR", "n"), ("DECRBY", "n", "2"),
           ("INCRBYFLOAT", "n", "1.5"), ("GETSET", "s", "w"), ("MSET", "m1", "1", "m2", "2"),
           ("MSETNX", "m3", "1", "m4", "2"), ("GETDEL", "m1"), ("SETEX", "e", "100", "v"),
           ("PSETEX", "e", "100000", "v"))


def test_string_set_options_with_generic(nt):
    nt.run("KEA", ("SET", "s", "v", "EX", "100"), ("SET", "s", "v", "KEEPTTL"),
           ("SET", "s", "v2", "GET"), ("SET", "s", "v3", "NX"), ("SET", "s", "v3", "XX"),
           ("GETEX", "s", "PX", "100000"), ("GETEX", "s", "PERSIST"), ("GETEX", "s"),
           ("SETEX", "t", "100", "v"), ("GETDEL", "t"))


def test_list_events(nt):
    nt.run("KEl", ("LPUSH", "l", "a", "b"), ("RPUSH", "l", "c"), ("LPUSHX", "l", "d"),
           ("RPUSHX", "nol", "d"), ("LINSERT", "l", "BEFORE", "a", "z"), ("LSET", "l", "0", "q"),
           ("LREM", "l", "0", "z"), ("LTRIM", "l", "0", "1"), ("RPOPLPUSH", "l", "l2"),
           ("LMOVE", "l", "l2", "LEFT", "RIGHT"), ("LPOP", "l2"), ("RPOP", "l2"))


def test_list_pop_to_empty(nt):
    nt.run("KEA", ("RPUSH", "l", "a", "b", "c"), ("LPOP", "l", "2"), ("RPOP", "l"),
           ("RPUSH", "l", "a"), ("LTRIM", "l", "1", "0"), ("RPUSH", "l", "a", "a"),
           ("LREM", "l", "0", "a"))


def test_hash_events(nt):
    nt.run("KEh", ("HSET", "h", "yes", "1", "no", "0"), ("HMSET", "h", "a", "1"),
           ("HSETNX", "h", "a", "2"), ("HSETNX", "h", "b", "2"), ("HINCRBY", "h", "yes", "10"),
           ("HINCRBYFLOAT", "h", "yes", "1.5"), ("HDEL", "h", "nope"), ("HDEL", "h", "a"))


def test_hash_delete_to_empty(nt):
    nt.run("KEA", ("HSET", "h", "f", "1"), ("HDEL", "h", "f"), ("HSET", "h", "f", "1"),
           ("HDEL", "h", "f", "g"))


def test_set_events(nt):
    nt.run("KEs", ("SADD", "s", "a", "b", "c", "d"), ("SREM", "s", "x"),
           ("SADD", "s", "x", "y", "z"), ("SREM", "s", "x"), ("SADD", "s", "a"),
           ("SMOVE", "s", "s2", "y"), ("SMOVE", "s", "s2", "nope"),
           ("SINTERSTORE", "dst", "s", "s2"), ("SUNIONSTORE", "dst", "s", "s2"),
           ("SDIFFSTORE", "dst", "s", "s2"), ("SINTERSTORE", "dst", "nokey", "s"))


def test_set_pop_to_empty(nt):
    nt.run("KEA", ("SADD", "s", "a"), ("SPOP", "s"), ("SADD", "s", "a", "b"),
           ("SREM", "s", "a", "b"), ("SADD", "t", "a"), ("SMOVE", "t", "u", "a"))


def test_zset_events(nt):
    nt.run("KEz", ("ZADD", "z", "1", "a", "2", "b"), ("ZREM", "z", "x"),
           ("ZADD", "z", "3", "x", "4", "y", "5", "w"), ("ZREM", "z", "x"),
           ("ZADD", "z", "1", "a"), ("ZADD", "z", "INCR", "1", "a"), ("ZINCRBY", "z", "2", "b"),
           ("ZREMRANGEBYSCORE", "z", "100", "200"), ("ZREMRANGEBYSCORE", "z", "0", "3"),
           ("ZADD", "z", "1", "m", "2", "n", "3", "o"), ("ZREMRANGEBYRANK", "z", "0", "0"),
           ("ZREMRANGEBYLEX", "z", "-", "+"), ("ZADD", "z", "1", "m", "2", "n"),
           ("ZPOPMIN", "z"), ("ZPOPMAX", "z"))


def test_zset_store(nt):
    nt.run("KEA", ("ZADD", "z1", "1", "a", "2", "b"), ("ZADD", "z2", "1", "b"),
           ("ZUNIONSTORE", "d", "2", "z1", "z2"), ("ZINTERSTORE", "d", "2", "z1", "z2"),
           ("ZDIFFSTORE", "d", "2", "z1", "z2"), ("ZINTERSTORE", "d", "1", "nokey"),
           ("ZRANGESTORE", "d", "z1", "0", "-1"))


def test_stream_events(nt):
    nt.run("KEt", ("XGROUP", "CREATE", "st", "g", "$", "MKSTREAM"),
           ("XGROUP", "CREATECONSUMER", "st", "g", "Bob"), ("XADD", "st", "1-1", "f", "v"),
           ("XADD", "st", "2-1", "f", "v"), ("XDEL", "st", "1-1"),
           ("XTRIM", "st", "MAXLEN", "0"), ("XGROUP", "DELCONSUMER", "st", "g", "Lee"),
           ("XGROUP", "DELCONSUMER", "st", "g", "Bob"), ("XGROUP", "SETID", "st", "g", "0"),
           ("XGROUP", "DESTROY", "st", "g"), replies=False)


def test_new_key_events(nt):
    msgs = nt.run("En", ("SET", "foo", "bar"), ("SET", "foo", "baz"), ("SET", "bar", "bar"),
                  ("HSET", "h", "f", "v"), ("HSET", "h", "g", "v"), ("SADD", "s", "x"),
                  ("ZADD", "z", "1", "x"), ("INCR", "n"), ("APPEND", "ap", "x"),
                  ("XADD", "st", "1-1", "f", "v"), ("SETNX", "nx", "1"), ("MSET", "m1", "1"))
    assert msgs[:2] == [(b"__keyevent@0__:new", b"foo"), (b"__keyevent@0__:new", b"bar")]


def test_new_key_with_others(nt):
    nt.run("KEA", ("SET", "foo", "bar"))
    nt.run("KEAn", ("SET", "foo2", "bar"), ("SET", "foo2", "baz"), ("SADD", "s", "a"),
           ("RENAME", "foo2", "foo3"))


def test_keymiss_events(nt):
    nt.run("KEm", ("GET", "nokey"), ("SET", "k", "v"), ("GET", "k"), ("HGET", "nohash", "f"),
           ("EXISTS", "nokey"), ("SMEMBERS", "noset"), ("ZSCORE", "noz", "m"),
           ("DEL", "nokey"), ("TYPE", "nokey"), ("TTL", "nokey"), ("STRLEN", "nokey"))


def test_keymiss_list(nt):
    nt.run("KEm", ("LRANGE", "nolist", "0", "-1"), ("LLEN", "nolist"))


def test_expired_lazy(nt):
    nt.run("Ex", ("SET", "foo", "bar", "PX", "1"))
    time.sleep(0.02)
    nt.run("Ex", ("GET", "foo"), ("SET", "foo", "again"))


def test_expired_active(nt):
    nt.run("Ex", ("SET", "act", "v", "PX", "20"))
    deadline = time.time() + 3
    for conn in (nt.ctl.a, nt.ctl.b):
        while time.time() < deadline and conn.cmd("DBSIZE") != b":0\r\n":
            time.sleep(0.02)
    assert nt.collect() == [(b"__keyevent@0__:expired", b"act")]


def test_expire_in_the_past_is_del(nt):
    nt.run("KEA", ("SET", "k", "v"), ("EXPIRE", "k", "0"), ("SET", "k", "v"),
           ("PEXPIREAT", "k", "1000"), ("SET", "k", "v"), ("SETEX", "k2", "100", "v"),
           ("GETEX", "k", "EX", "100"))


def test_flushall_no_events(nt):
    assert nt.run("KEA", ("SET", "a", "1"), ("FLUSHALL",), ("FLUSHDB",)) == [
        (b"__keyspace@0__:a", b"set"), (b"__keyevent@0__:set", b"a")]


def test_notifications_inside_transaction(nt):
    nt.run("KEA", ("MULTI",), ("SET", "a", "1"), ("HSET", "h", "f", "1"), ("DEL", "a"),
           ("EXEC",))


def test_sort_store(nt):
    nt.run("KEA", ("RPUSH", "l", "3", "1", "2"), ("SORT", "l", "STORE", "dst"),
           ("SORT", "nokey", "STORE", "dst"))


def test_subscriber_with_channel_not_pattern(server, real):
    p = Notify(server.port, real.port, pattern="__keyevent@0__:s*")
    try:
        msgs = p.run("KEA", ("SET", "a", "1"), ("SADD", "b", "x"), ("DEL", "a"))
        assert msgs == [(b"__keyevent@0__:set", b"a"), (b"__keyevent@0__:sadd", b"b")]
    finally:
        p.close()


def test_keymiss_not_fired_by_writes(nt):
    """Write commands look keys up for writing: no keymiss (lookupKeyWrite)."""
    for cmds in ([("INCR", "a"), ("APPEND", "b", "x"), ("SETRANGE", "c", "0", "x"),
                  ("SET", "d", "1", "GET"), ("GETDEL", "e"), ("GETEX", "f"),
                  ("INCRBYFLOAT", "g", "1")],
                 [("HSET", "h", "f", "v"), ("HINCRBY", "h2", "f", "1"), ("HDEL", "h3", "f"),
                  ("HSETNX", "h4", "f", "v")],
                 [("SADD", "s", "a"), ("SREM", "s2", "a"), ("SPOP", "s3"),
                  ("SMOVE", "s4", "s5", "a"), ("SINTERSTORE", "s6", "s7")],
                 [("ZADD", "z", "1", "a"), ("ZINCRBY", "z2", "1", "a"), ("ZREM", "z3", "a"),
                  ("ZPOPMIN", "z4"), ("ZUNIONSTORE", "z5", "1", "z6")],
                 [("EXPIRE", "x1", "10"), ("PERSIST", "x2"), ("RENAME", "x3", "x4"),
                  ("DEL", "x5"), ("UNLINK", "x6"), ("COPY", "x7", "x8"),
                  ("XADD", "st", "*", "f", "v"), ("XDEL", "st2", "1-1")]):
        nt.run("KEAm", *cmds, replies=False)
