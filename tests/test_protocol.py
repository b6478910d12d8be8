"""Request parsing: protocol errors (differential against real Redis on raw sockets), the
connection closing after them while the server keeps serving others, pipelining, frames
split across reads, inline commands and binary safety."""
import socket
import time

import pytest

from conftest import Raw, encode_command, start_real_redis, start_redislet


def _raw_both(server, real):
    return Raw(server.port), Raw(real.port)


def _exchange(conn, data, quiet=0.5):
    """Send data, return everything read until the peer closes or stays quiet."""
    conn.send(data)
    conn.sock.settimeout(quiet)
    got = b""
    closed = False
    try:
        while True:
            chunk = conn.sock.recv(65536)
            if not chunk:
                closed = True
                break
            got += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    return got, closed


PROTOCOL_ERRORS = [
    # (name, bytes) - each answered with one error, then the connection is closed
    ("invalid multibulk length (too big)", b"*3000000000\r\n"),
    ("invalid multibulk length (not a number)", b"*abc\r\n"),
    ("invalid multibulk length (trailing junk)", b"*3x\r\n"),
    ("invalid multibulk length (plus sign)", b"*+3\r\n"),
    ("expected $", b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"),
    ("expected $ right after count", b"*1\r\nfoo\r\n"),
    ("negative bulk length", b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n"),
    ("out of range bulk length", b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n"),
    ("non-number bulk length", b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n"),
    ("empty bulk length", b"*1\r\n$\r\n"),
    ("unbalanced quotes", b"set \"\"\"test-key\"\"\" test-value\r\nping\r\n"),
    ("unbalanced single quote", b"echo 'abc\r\n"),
    ("quote followed by non-space", b"echo \"a\"b\r\n"),
    ("commands before the error run", b"PING\r\n*1\r\n$4\r\nPING\r\n*x\r\n"),
    ("pipelined multibulk then error", encode_command(["ECHO", "hi"]) + b"*2\r\n$4\r\nECHO\r\n!3\r\n"),
]


@pytest.mark.parametrize("name,data", PROTOCOL_ERRORS, ids=[n for n, _ in PROTOCOL_ERRORS])
def test_protocol_errors_differential(server, real, name, data):
    a, b = _raw_both(server, real)
    try:
        got_a, closed_a = _exchange(a, data)
        got_b, closed_b = _exchange(b, data)
        assert got_a == got_b
        assert b"Protocol error" in got_a
        assert closed_a and closed_b
    finally:
        a.close()
        b.close()
    # the server still serves other clients
    c = Raw(server.port)
    assert c.cmd("PING") == b"+PONG\r\n"
    c.close()


@pytest.mark.parametrize("seq", [b"\x00", b"*\x00", b"$\x00"], ids=["nul", "star-nul", "dollar-nul"])
def test_protocol_desync_too_big(server, real, seq):
    """An endless line without newline: too big inline request / mbulk count string."""
    outs = []
    for port in (server.port, real.port):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(seq + b"payload" * 10000)   # > 64k, no newline
        s.settimeout(5)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()
        outs.append(data)
    assert outs[0] == outs[1]
    assert outs[0].startswith(b"-ERR Protocol error: too big")


def test_too_big_bulk_count_string(server, real):
    outs = []
    for port in (server.port, real.port):
        c = Raw(port)
        outs.append(_exchange(c, b"*1\r\n$" + b"1" * 70000, quiet=1.0))
        c.close()
    assert outs[0] == outs[1]
    assert outs[0][0] == b"-ERR Protocol error: too big bulk count string\r\n"


def test_empty_query_and_negative_count(both):
    # no reply to any of them: the PING after each is answered first
    for query in (b"\r\n", b"*-10\r\n", b"*0\r\n"):
        a, b = both.send_raw(query + b"PING\r\n", until=b"+PONG\r\n")
        assert a == b == b"+PONG\r\n", query
    both("PING")


def test_generic_wrong_number_of_args(both):
    both("PING", "x", "y", "z")


def test_inline_commands(both):
    for line in [b"PING\r\n", b"ECHO hello\r\n", b"ECHO \"a\\x41b\\n\"\r\n",
                 b"ECHO 'single quoted'\r\n", b"  PING  \n", b"ECHO \"\"\r\n",
                 b"echo \"\\\"q\\\"\"\r\n"]:
        end = b"$7\r\n__end__\r\n"     # the reply to the ECHO that follows each line
        a, b = both.send_raw(line + b"ECHO __end__\r\n", until=end)
        assert a == b and a.endswith(end) and len(a) > len(end), line


def test_pipelining_many_commands(both):
    data = b"".join(encode_command(["ECHO", str(i)]) for i in range(200))
    data += b"PING\r\n" + encode_command(["ECHO", "end"])
    a, b = both.send_raw(data)
    assert a == b
    assert a.endswith(b"+PONG\r\n$3\r\nend\r\n")


def test_partial_frames_across_reads(raw):
    c = raw()
    data = encode_command(["SET", "pk", "v" * 100]) + encode_command(["GET", "pk"])
    for i in range(len(data)):
        c.send(data[i:i + 1])
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"$100\r\n" + b"v" * 100 + b"\r\n"


def test_big_argument_in_chunks(raw):
    c = raw()
    value = bytes(range(256)) * 1000          # 256000 bytes, binary
    data = encode_command(["SET", "big", value])
    for i in range(0, len(data), 7000):
        c.send(data[i:i + 7000])
        time.sleep(0.001)
    assert c.read_reply() == b"+OK\r\n"
    assert c.cmd("GET", "big") == b"$%d\r\n%s\r\n" % (len(value), value)
    assert c.cmd("STRLEN", "big") == b":256000\r\n"


def test_binary_safety(both):
    key = b"k\x00\r\n\xff"
    val = b"\x00\x01\r\n$3\r\n*1\r\n\xfe"
    both("SET", key, val)
    both("GET", key)
    both("ECHO", val)


def test_auth_limits_differential(tmp_path):
    """With requirepass, unauthenticated clients may not send big multibulk counts or bulks."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = start_redislet(tmp_path / "a", "--requirepass", "secret")
    b = start_real_redis(tmp_path / "b", "--requirepass", "secret")
    try:
        for data in [b"*11\r\n", b"*2\r\n$4\r\nAUTH\r\n$16385\r\n",
                     b"*10\r\n$4\r\nPING\r\n"]:
            outs = []
            for port in (a.port, b.port):
                c = Raw(port)
                outs.append(_exchange(c, data))
                c.close()
            assert outs[0] == outs[1], data
        # after AUTH the limits are lifted
        outs = []
        for port in (a.port, b.port):
            c = Raw(port)
            assert c.cmd("AUTH", "secret") == b"+OK\r\n"
            outs.append(c.cmd(*(["ECHO"] + ["x"] * 0 + ["y" * 20000])))
            outs.append(c.cmd(*(["DEL"] + ["k%d" % i for i in range(20)])))
            c.close()
        assert outs[0] == outs[2] and outs[1] == outs[3]
    finally:
        a.stop()
        b.stop()


def test_proto_max_bulk_len_runtime(raw):
    c = raw()
    assert c.cmd("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
    try:
        other = raw()
        got, closed = _exchange(other, b"*2\r\n$4\r\nECHO\r\n$1048577\r\n")
        assert got == b"-ERR Protocol error: invalid bulk length\r\n" and closed
        # an existing connection sees the new limit as well
        got, closed = _exchange(c, b"*2\r\n$4\r\nECHO\r\n$2000000\r\n")
        assert got == b"-ERR Protocol error: invalid bulk length\r\n" and closed
    finally:
        r = raw()
        assert r.cmd("CONFIG", "SET", "proto-max-bulk-len", "512mb") == b"+OK\r\n"


def test_query_buffer_limit(raw):
    c = raw()
    assert c.cmd("CONFIG", "SET", "client-query-buffer-limit", "1mb") == b"+OK\r\n"
    try:
        victim = raw()
        victim.send(b"*2\r\n$4\r\nECHO\r\n$3000000\r\n" + b"x" * 1100000)
        victim.sock.settimeout(5)
        data = b""
        try:
            while True:
                chunk = victim.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        assert data == b""
        assert c.cmd("PING") == b"+PONG\r\n"
    finally:
        assert c.cmd("CONFIG", "SET", "client-query-buffer-limit", "1gb") == b"+OK\r\n"


def test_protocol_error_counted_in_errorstats(server, real):
    outs = []
    for port in (server.port, real.port):
        c = Raw(port)
        c.cmd("CONFIG", "RESETSTAT")
        bad = Raw(port)
        _exchange(bad, b"*abc\r\n")
        bad.close()
        info = c.cmd("INFO", "errorstats")
        outs.append(b"errorstat_ERR:count=1" in info)
        c.close()
    assert outs[0] == outs[1]


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_arrays_of_bulk_strings_of_every_size(both, resp3):
    """Array, set and map replies of 0 to 20 and 100 bulk strings (the encoder lays out
    eight and more by table), with items of 0 bytes up to 5000 (past the table's 1 KB),
    byte for byte as redis-server sends them."""
    if resp3:
        both.resp3()
    sizes = list(range(21)) + [100]
    for n in sizes:
        both("ZADD", "z%d" % n, *[x for i in range(n) for x in (str(i), "m" * (i % 70))])
        both("ZADD", "zbig%d" % n, *[x for i in range(n) for x in (
            str(i), "x%d" % i + "b" * (1023, 1024, 5000, 3)[i % 4])])
        both("SADD", "s%d" % n, *[str(i * 3) for i in range(n)])    # intset: ascending
        both("HSET", "h%d" % n, *[x for i in range(n) for x in ("f%d" % i, "v" * (i % 9))]
             ) if n else None
        both("ZRANGE", "z%d" % n, "0", "-1")
        both("ZRANGE", "zbig%d" % n, "0", "-1")
        both("SMEMBERS", "s%d" % n)
        both("HKEYS", "h%d" % n)
        both("HVALS", "h%d" % n)
        both("HGETALL", "h%d" % n)
        both("SRANDMEMBER", "s%d" % n, "-0")
        both("RPUSH", "l%d" % n, *["x%d" % i + "c" * (0, 9, 1023, 1024, 5000)[i % 5]
                                   for i in range(n)]) if n else None
        both("LRANGE", "l%d" % n, "0", "-1")
        both("ZRANGE", "z%d" % n, "0", "-1", "WITHSCORES")
        both("ZREVRANGE", "zbig%d" % n, "0", "-1", "WITHSCORES")
    scores = ["inf", "-inf", "-0", "0.1", "1e300", "5e-324", "-2.5", "123456789012345678"]
    both("ZADD", "special", *[x for i, s in enumerate(scores) for x in (s, "m%d" % i)])
    both("ZRANGE", "special", "0", "-1", "WITHSCORES")
    both("ZRANGEBYSCORE", "special", "-inf", "+inf", "WITHSCORES", "LIMIT", "1", "5")


_SESSION8_CASES = [
    ("SET", "s", "v"), ("RPUSH", "l", "a", "b"), ("HSET", "h", "f", "v"), ("SADD", "st", "m"),
    ("ZADD", "z", "1", "a", "2", "b"),
    ("MGET",), ("MGET", *["k%d" % i for i in range(9)], "l"), ("MGET", *(["s"] * 10)),
    ("MSET", "a"), ("MSET", *[x for i in range(10) for x in ("m%d" % i, "v")]),
    ("KEYS",), ("KEYS", "a", "b"), ("KEYS", "m1*"),
    ("SORT", "h"), ("SORT", "l"), ("SORT", "st"), ("SORT", "z", "LIMIT", "0"),
    ("PUBLISH", "ch"), ("PUBLISH", "ch", "m", "x"), ("PUBLISH", "ch", "m"),
    ("HGETALL", "s"), ("HGETALL",), ("HKEYS", "l"), ("HVALS", "z"),
    ("SMEMBERS", "h"), ("SMEMBERS",), ("SRANDMEMBER", "st", "x"),
    ("ZRANGE", "z", "0", "-1", "WITHSCORES", "x"), ("ZRANGE", "s", "0", "-1"),
    ("ZRANGEBYSCORE", "z", "a", "b"), ("ZREVRANGE", "z", "0", "-1", "WITHSCORES"),
    ("LRANGE", "h", "0", "-1"), ("LRANGE", "l", "x", "1"), ("LRANGE", "l"),
    ("OBJECT", "IDLETIME", "nokey"), ("OBJECT", "FREQ", "s"), ("OBJECT", "IDLETIME"),
    ("SCAN", "x"), ("SCAN", "0", "COUNT", "0"), ("SCAN", "0", "MATCH"),
    ("RENAME", "nokey", "x"), ("MOVE", "s", "x"), ("SWAPDB", "0", "x"),
    ("INFO", "a", "b"),
]

def test_errors_of_commands_with_fast_paths(both):
    """Wrong types, wrong arity and bad arguments of the commands whose replies take
    the fast paths (bulks, MGET/MSET loops, KEYS filter, numeric SORT, PUBLISH frames,
    access clocks), byte for byte with redis-server, RESP2 then RESP3."""
    for args in _SESSION8_CASES:
        both(*args)
    both.resp3()
    for args in _SESSION8_CASES:
        if args[0] not in ("MSET", "SET", "RPUSH", "HSET", "SADD", "ZADD", "INFO"):
            both(*args)
