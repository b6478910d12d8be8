"""Bit commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO.
Differential against real Redis (`both`) for every argument form and error."""
import random

import pytest


def test_setbit_getbit_basics(both):
    both("SETBIT", "k", "7", "1")
    both("GET", "k")
    both("SETBIT", "k", "7", "0")
    both("SETBIT", "k", "100", "1")
    both("GET", "k")
    both("STRLEN", "k")
    both("GETBIT", "k", "100")
    both("GETBIT", "k", "101")
    both("GETBIT", "k", "100000")
    both("GETBIT", "nokey", "5")
    both("OBJECT", "ENCODING", "k")
    both("SET", "s", "foo")
    both("SETBIT", "s", "0", "0")          # unchanged bit: still converted to raw
    both("OBJECT", "ENCODING", "s")
    both("SET", "n", "12")
    both("GETBIT", "n", "2")
    both("SETBIT", "n", "7", "1")
    both("GET", "n")
    both("TTL", "n")


@pytest.mark.parametrize("args", [
    ("SETBIT", "k", "-1", "1"), ("SETBIT", "k", "x", "1"), ("SETBIT", "k", "1.5", "1"),
    ("SETBIT", "k", "4294967296", "1"), ("SETBIT", "k", "9223372036854775807", "1"),
    ("SETBIT", "k", "1", "2"), ("SETBIT", "k", "1", "-1"), ("SETBIT", "k", "1", "x"),
    ("SETBIT", "k", "1", ""), ("GETBIT", "k", "-1"), ("GETBIT", "k", "4294967296"),
    ("GETBIT", "k", "abc"), ("SETBIT", "k", "1"), ("GETBIT", "k"),
    ("SETBIT", "k", "+1", "1"), ("SETBIT", "k", "01", "1"),
])
def test_setbit_getbit_errors(both, args):
    both(*args)


def test_setbit_wrongtype_and_order(both):
    both("LPUSH", "l", "a")
    both("SETBIT", "l", "1", "1")
    both("GETBIT", "l", "1")
    both("SETBIT", "l", "-1", "1")   # offset checked before the type
    both("GETBIT", "l", "x")
    both("SETBIT", "l", "1", "5")


def test_setbit_offset_limit_follows_proto_max_bulk_len(both):
    both("CONFIG", "SET", "proto-max-bulk-len", "1000")
    try:
        both("SETBIT", "k", "7999", "1")
        both("SETBIT", "k", "8000", "1")
        both("BITFIELD", "k", "SET", "u8", "#999", "1")
        both("BITFIELD", "k", "SET", "u8", "#1000", "1")
        both("STRLEN", "k")
    finally:
        both("CONFIG", "SET", "proto-max-bulk-len", "536870912")


def test_bitcount(both):
    both("SET", "s", "foobar")
    for args in [(), ("0", "0"), ("1", "1"), ("0", "-1"), ("-2", "-1"), ("5", "30", "BIT"),
                 ("5", "30", "byte"), ("-1", "-2"), ("-5", "-10"), ("100", "200"),
                 ("0", "100"), ("-100", "-1"), ("1", "0"), ("0", "0", "BIT"),
                 ("7", "7", "bit"), ("1", "47", "BIT"), ("-9", "-1", "BIT"),
                 ("1",), ("1", "2", "bits"), ("a", "1"), ("1", "b"), ("1", "2", "BIT", "x"),
                 ("-1", "-2", "foo")]:
        both("BITCOUNT", "s", *args)
    both("BITCOUNT", "nokey")
    both("BITCOUNT", "nokey", "1")           # missing key before the syntax check
    both("BITCOUNT", "nokey", "a", "b")
    both("SET", "i", "123456")
    both("BITCOUNT", "i")
    both("BITCOUNT", "i", "1", "2")
    both("SET", "e", "")
    both("BITCOUNT", "e")
    both("BITCOUNT", "e", "0", "-1", "BIT")
    both("HSET", "h", "f", "v")
    both("BITCOUNT", "h")
    both("BITCOUNT", "h", "x")


def test_bitcount_random_ranges(both):
    rnd = random.Random(7)
    data = bytes(rnd.randrange(256) for _ in range(300))
    both("SET", "s", data)
    for _ in range(60):
        a, b = rnd.randrange(-400, 400), rnd.randrange(-400, 400)
        both("BITCOUNT", "s", str(a), str(b))
        a, b = rnd.randrange(-3000, 3000), rnd.randrange(-3000, 3000)
        both("BITCOUNT", "s", str(a), str(b), "BIT")


def test_bitpos(both):
    both("SET", "s", b"\x00\xff\xf0")
    both("SET", "ff", b"\xff\xff\xff")
    both("SET", "z", b"\x00\x00\x00")
    for key in ("s", "ff", "z", "nokey"):
        for args in [("1",), ("0",), ("1", "2"), ("0", "2"), ("1", "-1"), ("0", "0", "-1"),
                     ("1", "1", "1"), ("0", "1", "1"), ("1", "7", "15", "BIT"),
                     ("0", "7", "15", "bit"), ("0", "0", "-1", "BIT"), ("1", "5", "5", "BIT"),
                     ("1", "100"), ("0", "100"), ("1", "2", "1"), ("0", "-100", "100"),
                     ("1", "17", "22", "BIT"), ("0", "17", "22", "BIT"),
                     ("1", "3", "20", "BYTE")]:
            both("BITPOS", key, *args)
    for args in [("2",), ("-1",), ("x",), ("1", "x"), ("1", "0", "x"),
                 ("1", "0", "1", "foo"), ("1", "0", "1", "BIT", "extra")]:
        both("BITPOS", "s", *args)
    both("BITPOS", "nokey", "2")
    both("LPUSH", "l", "a")
    both("BITPOS", "l", "1")
    both("BITPOS", "l", "3")


def test_bitpos_random(both):
    rnd = random.Random(11)
    for _ in range(10):
        n = rnd.randrange(1, 40)
        data = bytes(rnd.choice([0, 255, rnd.randrange(256)]) for _ in range(n))
        both("SET", "s", data)
        for _ in range(20):
            bit = str(rnd.randrange(2))
            a, b = rnd.randrange(-50, 50), rnd.randrange(-50, 50)
            both("BITPOS", "s", bit, str(a))
            both("BITPOS", "s", bit, str(a), str(b))
            a, b = rnd.randrange(-400, 400), rnd.randrange(-400, 400)
            both("BITPOS", "s", bit, str(a), str(b), "BIT")


def test_bitop(both):
    both("SET", "a", b"\x0f\xf0\xaa")
    both("SET", "b", b"\xff\x00")
    both("SET", "n", "12")
    for op in ("AND", "or", "Xor"):
        both("BITOP", op, "dest", "a", "b")
        both("GET", "dest")
        both("BITOP", op, "dest", "a", "b", "nokey", "n")
        both("GET", "dest")
        both("BITOP", op, "dest", "a")
        both("GET", "dest")
    both("BITOP", "NOT", "dest", "a")
    both("GET", "dest")
    both("OBJECT", "ENCODING", "dest")
    both("BITOP", "NOT", "a", "a")
    both("GET", "a")
    both("BITOP", "NOT", "dest", "a", "b")
    both("BITOP", "NOT", "dest")
    both("BITOP", "nand", "dest", "a")
    both("BITOP", "AND", "dest")
    both("SET", "empty", "")
    both("BITOP", "OR", "dest", "nokey", "empty")   # result is empty: dest deleted
    both("EXISTS", "dest")
    both("BITOP", "OR", "dest", "nokey")
    both("SET", "dest", "x")
    both("EXPIRE", "dest", "100")
    both("BITOP", "OR", "dest", "a")
    both("TTL", "dest")
    both("LPUSH", "l", "x")
    both("BITOP", "AND", "dest", "a", "l")
    both("BITOP", "AND", "l", "a")      # destination of another type is overwritten
    both("TYPE", "l")


def test_bitop_fuzz(both):
    rnd = random.Random(3)
    for _ in range(20):
        keys = []
        for i in range(rnd.randrange(1, 5)):
            k = "k%d" % i
            both("SET", k, bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 70))))
            keys.append(k)
        for op in ("AND", "OR", "XOR"):
            both("BITOP", op, "d", *keys)
            both("GET", "d")
        both("BITOP", "NOT", "d", keys[0])
        both("GET", "d")


BITFIELD_CASES = [
    ("SET", "i8", "0", "-100", "GET", "u4", "0", "INCRBY", "u2", "100", "1"),
    ("GET", "u64", "0"), ("GET", "i64", "0"), ("GET", "u63", "0"), ("GET", "i65", "0"),
    ("GET", "i0", "0"), ("GET", "x8", "0"), ("GET", "u", "0"), ("GET", "i8", "#1"),
    ("GET", "i8", "#-1"), ("GET", "i8", "-1"), ("GET", "i8", "x"), ("GET", "i8"),
    ("SET", "i8", "0"), ("SET", "i8", "0", "x"), ("INCRBY", "u8", "0", "1.5"),
    ("OVERFLOW", "bad"), ("OVERFLOW",), ("FOO", "i8", "0"),
    ("OVERFLOW", "SAT", "INCRBY", "u2", "100", "10", "INCRBY", "i4", "0", "-100"),
    ("OVERFLOW", "FAIL", "INCRBY", "u2", "100", "10", "GET", "u2", "100"),
    ("OVERFLOW", "WRAP", "INCRBY", "u2", "100", "10", "INCRBY", "i5", "3", "100"),
    ("SET", "i64", "0", "-9223372036854775808", "GET", "i64", "0",
     "INCRBY", "i64", "0", "-1", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "-1"),
    ("OVERFLOW", "SAT", "SET", "i8", "0", "-9223372036854775808",
     "SET", "i8", "0", "-9223372036854775680", "SET", "u8", "0", "-1",
     "INCRBY", "u8", "0", "-1000"),
    ("OVERFLOW", "FAIL", "SET", "u8", "0", "256", "SET", "i8", "0", "-129"),
    ("SET", "u63", "#1", "9223372036854775807", "GET", "u63", "#1", "INCRBY", "u63", "#1", "1"),
    ("SET", "i64", "#1152921504606846976", "1"),
    ("GET", "u8", "4294967288"),
    ("set", "u1", "5", "1", "get", "U1", "5", "overflow", "sat", "incrby", "u1", "5", "1"),
]


@pytest.mark.parametrize("args", BITFIELD_CASES)
def test_bitfield_cases(both, args):
    both("SET", "bf", b"\x12\x34\x56\x78\x9a")
    both("BITFIELD", "bf", *args)
    both("GET", "bf")
    both("BITFIELD", "newkey", *args)
    both("GET", "newkey")
    both.resp3()
    both("BITFIELD", "bf", *args)


def test_bitfield_ro(both):
    both("SET", "bf", b"\xff\x00")
    both("BITFIELD_RO", "bf", "GET", "u8", "0", "GET", "i4", "4")
    both("BITFIELD_RO", "bf")
    both("BITFIELD_RO", "bf", "OVERFLOW", "SAT")
    both("BITFIELD_RO", "bf", "GET", "u8", "0", "SET", "u8", "0", "1")
    both("BITFIELD_RO", "bf", "INCRBY", "u8", "0", "1")
    both("BITFIELD_RO", "bf", "SET", "u8", "0")     # syntax error before the RO check
    both("BITFIELD_RO", "bf", "GET", "u64", "0", "SET", "u8", "0", "1")
    both("BITFIELD_RO", "nokey", "GET", "u8", "0")
    both("BITFIELD", "nokey", "GET", "u8", "0")
    both("EXISTS", "nokey")
    both("LPUSH", "l", "a")
    both("BITFIELD_RO", "l", "GET", "u8", "0")
    both("BITFIELD", "l", "GET", "u8", "0")
    both("BITFIELD", "l")
    both("BITFIELD", "l", "SET", "u8", "0", "1")
    both("BITFIELD", "l", "SET", "u8", "x", "1")


def test_bitfield_fuzz(both):
    rnd = random.Random(5)
    both("SET", "bf", bytes(rnd.randrange(256) for _ in range(16)))
    for _ in range(150):
        sign = rnd.choice("iu")
        bits = rnd.randrange(1, 65 if sign == "i" else 64)
        off = str(rnd.randrange(0, 140))
        ow = rnd.choice(["WRAP", "SAT", "FAIL"])
        val = str(rnd.choice([rnd.randrange(-(1 << 63), 1 << 63), rnd.randrange(-300, 300)]))
        op = rnd.choice(["SET", "INCRBY", "GET"])
        if op == "GET":
            both("BITFIELD", "bf", "GET", "%s%d" % (sign, bits), off)
        else:
            both("BITFIELD", "bf", "OVERFLOW", ow, op, "%s%d" % (sign, bits), off, val)
    both("GET", "bf")


def _dirty(conn):
    info = conn.cmd("INFO", "persistence").decode()
    for line in info.split("\r\n"):
        if line.startswith("rdb_changes_since_last_save:"):
            return int(line.split(":")[1])


def test_dirty_only_on_change(raw):
    c = raw()
    c.cmd("FLUSHALL")
    d0 = _dirty(c)
    c.cmd("SETBIT", "foo", "0", "0")
    c.cmd("BITFIELD", "foo2", "SET", "i5", "0", "0")
    assert _dirty(c) == d0 + 2
    c.cmd("SETBIT", "foo", "0", "0")
    c.cmd("BITFIELD", "foo2", "SET", "i5", "0", "0")
    assert _dirty(c) == d0 + 2
    c.cmd("SETBIT", "foo", "0", "1")
    c.cmd("SETBIT", "foo", "0", "1")
    c.cmd("BITFIELD", "foo2", "SET", "i5", "0", "1", "SET", "i5", "0", "1")
    assert _dirty(c) == d0 + 4
    c.cmd("SETBIT", "foo", "90", "0")
    c.cmd("BITFIELD", "foo2", "SET", "i5", "90", "0")
    assert _dirty(c) == d0 + 6
    c.cmd("BITFIELD", "foo2", "OVERFLOW", "FAIL", "SET", "u2", "0", "9")
    assert _dirty(c) == d0 + 6


def test_notifications(raw):
    c = raw()
    c.cmd("FLUSHALL")
    c.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA")
    try:
        sub = raw()
        sub.cmd("PSUBSCRIBE", "__keyevent@0__:*")
        c.cmd("SETBIT", "k", "1", "1")
        c.cmd("SETBIT", "k", "1", "1")            # no change: no event
        c.cmd("BITFIELD", "k", "INCRBY", "u8", "0", "1")
        c.cmd("BITOP", "NOT", "d", "k")
        c.cmd("BITOP", "AND", "d", "nokey")
        got = []
        for _ in range(4):
            parts = sub.read_reply().split(b"\r\n")
            got.append((parts[6], parts[8]))
        assert got == [(b"__keyevent@0__:setbit", b"k"), (b"__keyevent@0__:setbit", b"k"),
                       (b"__keyevent@0__:set", b"d"), (b"__keyevent@0__:del", b"d")]
    finally:
        c.cmd("CONFIG", "SET", "notify-keyspace-events", "")


def test_resp3_shapes(r):
    r.delete("bf")
    assert r.bitfield("bf").overflow("FAIL").incrby("u2", 0, 10).execute() == [None]
    assert r.setbit("b", 3, 1) == 0
    assert r.getbit("b", 3) == 1
    assert r.bitcount("b") == 1
    assert r.bitpos("b", 1) == 3


def test_large_offsets(raw):
    c = raw()
    c.cmd("FLUSHALL")
    assert c.cmd("SETBIT", "big", str(8 * 1024 * 1024 * 4), "1") == b":0\r\n"
    assert c.cmd("STRLEN", "big") == b":%d\r\n" % (4 * 1024 * 1024 + 1)
    assert c.cmd("BITCOUNT", "big") == b":1\r\n"
    assert c.cmd("BITPOS", "big", "1") == b":%d\r\n" % (8 * 1024 * 1024 * 4)
    assert c.cmd("BITPOS", "big", "0", "-1") == b":%d\r\n" % (8 * 1024 * 1024 * 4 + 1)
    c.cmd("DEL", "big")
