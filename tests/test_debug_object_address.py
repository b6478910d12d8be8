"""DEBUG OBJECT's "at:" address: INCR/DECR change an unshared int-encoded string in place
(incrDecrCommand), so its address stays; a result in the shared-integer range is another
object. The same/different relations are compared with real Redis."""
import pytest

from conftest import Raw


def _addr(conn, key):
    reply = conn.cmd("DEBUG", "OBJECT", key)
    assert reply.startswith(b"+Value at:"), reply
    return reply.split()[1]


def _relations(conn):
    conn.cmd("FLUSHALL")
    out = []
    conn.cmd("SET", "foo", "20000")
    conn.cmd("INCR", "foo")
    a1 = _addr(conn, "foo")
    conn.cmd("INCR", "foo")
    out.append(_addr(conn, "foo") == a1)            # in place
    conn.cmd("DECRBY", "foo", "40000")              # -19998: still in place
    out.append(_addr(conn, "foo") == a1)
    conn.cmd("SET", "bar", "10005")
    conn.cmd("INCR", "bar")
    b1 = _addr(conn, "bar")
    conn.cmd("DECRBY", "bar", "10")                 # 9996: a shared integer, a new object
    out.append(_addr(conn, "bar") == b1)
    conn.cmd("SET", "baz", "9999")                  # shared 9999 -> a new 10000 object
    z1 = _addr(conn, "baz")
    conn.cmd("INCR", "baz")
    z2 = _addr(conn, "baz")
    out.append(z2 == z1)
    conn.cmd("INCR", "baz")                          # 10001: in place
    out.append(_addr(conn, "baz") == z2)
    conn.cmd("INCRBY", "s1", "42")                   # two counters at 42: one shared object
    conn.cmd("INCRBY", "s2", "42")
    out.append(_addr(conn, "s1") == _addr(conn, "s2"))
    conn.cmd("SET", "raw", "abc")
    conn.cmd("APPEND", "raw", "1")
    out.append(conn.cmd("INCR", "raw"))               # not an integer
    return out


@pytest.mark.parametrize("which", ["redislet", "redis"])
def test_incr_in_place_keeps_address(server, real, which):
    conn = Raw(server.port if which == "redislet" else real.port)
    try:
        assert _relations(conn) == [True, True, False, False, True, True,
                                    b"-ERR value is not an integer or out of range\r\n"]
    finally:
        conn.close()


def test_refcount_after_incr_is_one(server):
    conn = Raw(server.port)
    try:
        conn.cmd("SET", "foo", "20000")
        conn.cmd("INCR", "foo")
        assert conn.cmd("OBJECT", "REFCOUNT", "foo") == b":1\r\n"
        assert conn.cmd("OBJECT", "ENCODING", "foo") == b"$3\r\nint\r\n"
    finally:
        conn.cmd("DEL", "foo")
        conn.close()
