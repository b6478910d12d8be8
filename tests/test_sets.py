"""Set commands: differential tests against real Redis 7.0.15 (RESP2 and RESP3), intset /
hashtable encodings (and the order an intset replies in), random commands, SSCAN,
notifications and propagation."""
import re
import time

import pytest

from conftest import Raw
from test_hashes import unordered


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def b(request, both):
    if request.param == 3:
        both.resp3()
    yield both
    both("CONFIG", "SET", "set-max-intset-entries", "512")
    both.close()


def run(b, *cmds):
    for cmd in cmds:
        b(*cmd)


INTS = ["3", "1", "2", "-5", "100", "9223372036854775807", "-9223372036854775808", "0"]


# -- SADD / SREM / membership -----------------------------------------------------------
def test_intset_basics(b):
    run(b, ("SADD", "s", *INTS), ("SADD", "s", "1", "7", "7"), ("SMEMBERS", "s"),
        ("SCARD", "s"), ("OBJECT", "ENCODING", "s"), ("SISMEMBER", "s", "1"),
        ("SISMEMBER", "s", "01"), ("SISMEMBER", "s", "x"), ("SMISMEMBER", "s", "1", "01", "7"),
        ("SREM", "s", "1", "1", "01", "x"), ("SMEMBERS", "s"), ("SADD", "s"),
        ("SREM", "s"), ("SISMEMBER", "s"), ("SMISMEMBER", "s"))


def test_intset_conversions(b):
    run(b, ("SADD", "a", "1", "2"), ("SADD", "a", "01"), ("OBJECT", "ENCODING", "a"),
        ("SREM", "a", "01"), ("OBJECT", "ENCODING", "a"),
        ("SADD", "b", "x", "1"), ("OBJECT", "ENCODING", "b"),
        ("SADD", "c", "9223372036854775808"), ("OBJECT", "ENCODING", "c"),
        ("SADD", "d", "-0"), ("OBJECT", "ENCODING", "d"),
        ("SADD", "e", " 1"), ("OBJECT", "ENCODING", "e"),
        ("SADD", "f", "1", "2", "x"), ("OBJECT", "ENCODING", "f"))
    b("CONFIG", "SET", "set-max-intset-entries", "3")
    run(b, ("SADD", "g", "1", "2", "3"), ("OBJECT", "ENCODING", "g"), ("SADD", "g", "3"),
        ("OBJECT", "ENCODING", "g"), ("SADD", "g", "4"), ("OBJECT", "ENCODING", "g"),
        ("SREM", "g", "4", "3"), ("OBJECT", "ENCODING", "g"),
        ("SADD", "h", "1", "2", "3", "4"), ("OBJECT", "ENCODING", "h"))
    b("CONFIG", "SET", "set-max-intset-entries", "0")
    run(b, ("SADD", "i", "1"), ("OBJECT", "ENCODING", "i"))


def test_srem_deletes_key(b):
    run(b, ("SADD", "s", "a", "b"), ("SREM", "s", "a", "b", "c"), ("EXISTS", "s"),
        ("SREM", "nokey", "a"), ("SCARD", "nokey"), ("SISMEMBER", "nokey", "a"),
        ("SMISMEMBER", "nokey", "a", "b"), ("SMEMBERS", "nokey"))


def test_hashtable_members(b):
    b("SADD", "s", "a", "b", "c", "1", "")
    unordered(b, "SMEMBERS", "s")
    run(b, ("SCARD", "s"), ("SISMEMBER", "s", ""), ("SMISMEMBER", "s", "", "zz", "1"))


def test_wrongtype(b):
    b("SET", "str", "x")
    b("SADD", "s", "1")
    for cmd in (("SADD", "str", "a"), ("SREM", "str", "a"), ("SCARD", "str"),
                ("SISMEMBER", "str", "a"), ("SMISMEMBER", "str", "a"), ("SMEMBERS", "str"),
                ("SPOP", "str"), ("SPOP", "str", "2"), ("SRANDMEMBER", "str"),
                ("SRANDMEMBER", "str", "2"), ("SMOVE", "str", "s", "a"),
                ("SMOVE", "s", "str", "1"), ("SMOVE", "nokey", "str", "1"),
                ("SINTER", "s", "str"), ("SINTER", "nokey", "str"), ("SINTERCARD", "2", "s", "str"),
                ("SINTERSTORE", "d", "s", "str"), ("SUNION", "str"), ("SUNIONSTORE", "d", "str"),
                ("SDIFF", "nokey", "str"), ("SDIFF", "s", "str"), ("SDIFFSTORE", "d", "s", "str"),
                ("SSCAN", "str", "0"), ("EXISTS", "s", "d")):
        b(*cmd)


# -- SMOVE ------------------------------------------------------------------------------
def test_smove(b):
    run(b, ("SADD", "a", "1", "2", "x"), ("SADD", "b", "3"),
        ("SMOVE", "a", "b", "1"), ("SMEMBERS", "b"), ("OBJECT", "ENCODING", "b"),
        ("SMOVE", "a", "b", "zz"), ("SMOVE", "a", "a", "2"), ("SMOVE", "a", "a", "zz"),
        ("SMOVE", "a", "c", "x"), ("OBJECT", "ENCODING", "c"), ("SMOVE", "a", "d", "2"),
        ("OBJECT", "ENCODING", "d"), ("EXISTS", "a"), ("SMOVE", "nokey", "d", "2"),
        ("SADD", "e", "2"), ("SMOVE", "d", "e", "2"), ("EXISTS", "d"), ("SMEMBERS", "e"))


# -- SINTER / SUNION / SDIFF ------------------------------------------------------------
def test_setops_intsets(b):
    run(b, ("SADD", "a", "1", "2", "3", "4", "5"), ("SADD", "b", "4", "5", "6", "3"),
        ("SADD", "c", "5", "3", "10"),
        ("SINTER", "a", "b"), ("SINTER", "a", "b", "c"), ("SINTER", "a"), ("SINTER", "a", "a"),
        ("SINTER", "a", "nokey"), ("SINTER", "nokey"), ("SUNION", "a", "b", "c"),
        ("SUNION", "a", "nokey"), ("SUNION", "nokey"), ("SDIFF", "a", "b"),
        ("SDIFF", "a", "b", "c"), ("SDIFF", "a", "a"), ("SDIFF", "b", "nokey", "a"),
        ("SDIFF", "nokey", "a"), ("SDIFF", "a", "nokey"), ("SDIFF", "a", "b", "a"),
        ("SINTERSTORE", "d", "a", "b"), ("SMEMBERS", "d"), ("OBJECT", "ENCODING", "d"),
        ("SUNIONSTORE", "d", "a", "c"), ("SMEMBERS", "d"), ("SDIFFSTORE", "d", "a", "c"),
        ("SMEMBERS", "d"), ("SINTERSTORE", "d", "a", "nokey"), ("EXISTS", "d"),
        ("SINTERSTORE", "d", "a", "nokey"), ("SUNIONSTORE", "d", "nokey"),
        ("SDIFFSTORE", "d", "a", "a"), ("SET", "str", "x"), ("SUNIONSTORE", "str", "a"),
        ("TYPE", "str"), ("SMEMBERS", "str"), ("SDIFFSTORE", "str", "nokey"), ("EXISTS", "str"),
        ("SUNIONSTORE", "a", "a", "c"), ("SMEMBERS", "a"), ("SINTERSTORE", "a", "a", "b"),
        ("SMEMBERS", "a"))


def test_setops_mixed(b):
    run(b, ("SADD", "a", "1", "2", "x", "y"), ("SADD", "b", "2", "y", "z"), ("SADD", "c", "1", "2"))
    for cmd in (("SINTER", "a", "b"), ("SINTER", "c", "a"), ("SUNION", "a", "b", "c"),
                ("SDIFF", "a", "b"), ("SDIFF", "a", "c")):
        unordered(b, *cmd)
    run(b, ("SINTER", "c", "a"), ("SDIFF", "c", "a"))
    unordered(b, "SDIFF", "a", "b", "y")
    for cmd in (("SINTERSTORE", "d1", "a", "c"), ("SUNIONSTORE", "d2", "c", "c"),
                ("SDIFFSTORE", "d3", "a", "b"), ("SDIFFSTORE", "d4", "a", "b", "x", "y")):
        dst = cmd[1]
        b(*cmd)
        b("OBJECT", "ENCODING", dst)
        unordered(b, "SMEMBERS", dst)


def test_sdiff_algorithms_and_encoding(b):
    b("SADD", "big", *[str(i) for i in range(600)])
    b("SADD", "rm", *[str(i) for i in range(500)])
    b("SADD", "one", "5")
    # algorithm 2 (adds the first set, then removes): the result stays a hash table
    run(b, ("SDIFFSTORE", "d", "big", "rm"), ("OBJECT", "ENCODING", "d"), ("SCARD", "d"),
        # algorithm 1 (adds only the survivors): intset
        ("SDIFFSTORE", "e", "big", "one"), ("OBJECT", "ENCODING", "e"),
        ("SDIFFSTORE", "f", "rm", "one", "big"), ("EXISTS", "f"),
        ("SINTERSTORE", "g", "big", "rm"), ("OBJECT", "ENCODING", "g"),
        ("SUNIONSTORE", "h", "rm", "one"), ("OBJECT", "ENCODING", "h"),
        ("SUNIONSTORE", "i", "big", "one"), ("OBJECT", "ENCODING", "i"))


def test_sintercard(b):
    run(b, ("SADD", "a", "1", "2", "3", "4"), ("SADD", "b", "2", "3", "4", "5"),
        ("SINTERCARD", "2", "a", "b"), ("SINTERCARD", "2", "a", "b", "LIMIT", "0"),
        ("SINTERCARD", "2", "a", "b", "LIMIT", "2"), ("SINTERCARD", "2", "a", "b", "limit", "10"),
        ("SINTERCARD", "1", "a"), ("SINTERCARD", "2", "a", "a"), ("SINTERCARD", "2", "a", "nokey"),
        ("SINTERCARD", "0", "a"), ("SINTERCARD", "-1", "a"), ("SINTERCARD", "x", "a"),
        ("SINTERCARD", "3", "a", "b"), ("SINTERCARD", "1", "a", "LIMIT"),
        ("SINTERCARD", "1", "a", "LIMIT", "-1"), ("SINTERCARD", "1", "a", "LIMIT", "x"),
        ("SINTERCARD", "1", "a", "FOO", "1"), ("SINTERCARD", "1", "a", "LIMIT", "1", "LIMIT", "3"),
        ("SINTERCARD", "9223372036854775807", "a"), ("SINTERCARD", "1"),
        ("SINTERCARD", "2", "a", "b", "LIMIT", "1", "x"))


# -- SPOP / SRANDMEMBER -----------------------------------------------------------------
def test_spop_srandmember_errors_and_fixed_shapes(b):
    run(b, ("SADD", "s", "3", "1", "2"),
        ("SPOP", "s", "x"), ("SPOP", "s", "-1"), ("SPOP", "s", "1", "2"), ("SPOP", "nokey"),
        ("SPOP", "nokey", "3"), ("SPOP", "nokey", "0"), ("SPOP", "s", "0"),
        ("SPOP", "s", "9223372036854775808"), ("SPOP", "s", "1.5"),
        ("SRANDMEMBER", "s", "x"), ("SRANDMEMBER", "nokey"), ("SRANDMEMBER", "nokey", "3"),
        ("SRANDMEMBER", "nokey", "-3"), ("SRANDMEMBER", "s", "0"), ("SRANDMEMBER", "s", "3"),
        ("SRANDMEMBER", "s", "100"), ("SRANDMEMBER", "s", "-9223372036854775808"),
        ("SRANDMEMBER", "s", "9223372036854775808"), ("SRANDMEMBER", "s", "1", "2"),
        ("SPOP", "s", "3"), ("EXISTS", "s"),
        ("SADD", "t", "5", "-1", "7"), ("SPOP", "t", "100"), ("EXISTS", "t"))


def test_spop_all_hashtable_with_ints_replies_sorted(b):
    # SPOP count >= size replies through SUNION's intset-first temporary set
    run(b, ("SADD", "s", "5", "x", "1", "-3"), ("SREM", "s", "x"), ("OBJECT", "ENCODING", "s"),
        ("SPOP", "s", "10"))


def test_spop_single(r):
    r.sadd("s", *range(10))
    seen = set()
    for _ in range(10):
        seen.add(r.spop("s"))
    assert seen == {b"%d" % i for i in range(10)} and r.exists("s") == 0
    assert r.spop("s") is None


@pytest.mark.parametrize("members", [[b"%d" % i for i in range(50)],
                                     [b"m%d" % i for i in range(50)]])
def test_spop_count_cases(r, members):
    for count in (1, 5, 40, 49, 50):   # case 2 (few), case 3 (most), case 1 (all)
        r.delete("s")
        r.sadd("s", *members)
        popped = r.spop("s", count)
        popped = list(popped)
        assert len(popped) == count and len(set(popped)) == count
        left = r.smembers("s")
        assert not (set(popped) & set(left))
        assert set(popped) | set(left) == set(members)


def test_spop_case3_reencodes(both):
    # popping most of a hashtable set rebuilds it: integer survivors make an intset again
    both("SADD", "s", "x", "y", "z", "1")
    both("SREM", "s", "1")
    both("SADD", "s", *[str(i) for i in range(12)])
    for m in ("x", "y", "z"):
        both("SREM", "s", m)
    assert both("OBJECT", "ENCODING", "s") == b"$9\r\nhashtable\r\n"
    both.a.cmd("SPOP", "s", "9")     # remaining 3: 3 * 5 > 9, case 2 keeps the encoding
    both.b.cmd("SPOP", "s", "9")
    assert both("OBJECT", "ENCODING", "s") == b"$9\r\nhashtable\r\n"
    both("SADD", "s", *[str(i) for i in range(12)])
    both.a.cmd("SPOP", "s", "10")    # remaining 2: 2 * 5 <= 10, case 3 rebuilds
    both.b.cmd("SPOP", "s", "10")
    assert both("OBJECT", "ENCODING", "s") == b"$6\r\nintset\r\n"


@pytest.mark.parametrize("size", [5, 300])
def test_srandmember_semantics(r, size):
    members = {b"%d" % i for i in range(size)}
    r.sadd("s", *members)
    for _ in range(20):
        assert r.srandmember("s") in members
    for count in (1, 2, size // 3, size // 2, size - 1, size, size + 5):
        res = r.srandmember("s", count)
        assert len(res) == min(count, size) and len(set(res)) == len(res)
        assert set(res) <= members
    res = r.srandmember("s", -1000)
    assert len(res) == 1000 and set(res) <= members
    if size == 5:
        assert set(res) == members   # all appear with overwhelming probability


# -- SSCAN ------------------------------------------------------------------------------
def test_sscan_small(b):
    run(b, ("SADD", "s", *INTS), ("SSCAN", "s", "0"), ("SSCAN", "s", "0", "MATCH", "*1*"),
        ("SSCAN", "s", "0", "COUNT", "1"), ("SSCAN", "s", "0", "COUNT", "0"),
        ("SSCAN", "s", "x"), ("SSCAN", "s", "0", "TYPE", "set"), ("SSCAN", "s", "0", "MATCH"),
        ("SSCAN", "nokey", "0"), ("SSCAN", "nokey", "0", "COUNT", "0"))


def test_sscan_hashtable(r):
    members = {b"m:%d" % i for i in range(2000)}
    r.sadd("s", *members)
    got = set()
    cursor = 0
    while True:
        cursor, part = r.sscan("s", cursor, count=100)
        got.update(part)
        if cursor == 0:
            break
    assert got == members
    cursor, part = r.sscan("s", 0, match="m:19*", count=5000)
    assert cursor == 0 and set(part) == {m for m in members if m.startswith(b"m:19")}


# -- notifications, dirty, propagation --------------------------------------------------
def test_notifications(server, real):
    from test_notify import Notify
    n = Notify(server.port, real.port)
    try:
        msgs = n.run("KEAn", ("SADD", "s", "a", "b", "c"), ("SADD", "s", "a"),
                     ("SREM", "s", "zz"), ("SREM", "s", "a"), ("SMOVE", "s", "t", "b"),
                     ("SMOVE", "s", "t", "c"), ("SADD", "u", "1", "2"), ("SPOP", "u", "5"),
                     ("SADD", "u", "1"), ("SPOP", "u"), ("SPOP", "u", "0"),
                     ("SADD", "a", "1", "2"), ("SADD", "b", "2"),
                     ("SINTERSTORE", "d", "a", "b"), ("SUNIONSTORE", "d", "a", "b"),
                     ("SDIFFSTORE", "d", "a", "b"), ("SDIFFSTORE", "d", "a", "a"),
                     ("SDIFFSTORE", "d", "a", "a"), ("SINTERSTORE", "d", "a", "nokey"),
                     ("SADD", "d", "1"), ("SINTERSTORE", "d", "a", "nokey"),
                     ("SMOVE", "a", "a", "1"), ("SADD", "t", "c"), ("SMOVE", "a", "t", "1"))
        assert (b"__keyevent@0__:sinterstore", b"d") in msgs
    finally:
        n.close()


@pytest.fixture(scope="module")
def emb():
    import redislet
    srv = redislet.Server()
    srv.start()
    log = []
    srv.server.propagate_targets.append(lambda dbid, argv: log.append(list(argv)))
    yield srv, log
    srv.stop()


def _effects(log):
    return [a for a in log if a[0].upper() not in (b"SELECT", b"MULTI", b"EXEC")]


def test_propagation(emb):
    srv, log = emb
    c = Raw(srv.port)
    try:
        log.clear()
        c.cmd("SADD", "s", "a")
        c.cmd("SADD", "s", "a")
        spopped = c.cmd("SPOP", "s")
        assert _effects(log) == [[b"SADD", b"s", b"a"], [b"SREM", b"s", b"a"]]
        assert spopped == b"$1\r\na\r\n"
        log.clear()
        c.cmd("SADD", "s", *[str(i) for i in range(10)])
        c.cmd("SPOP", "s", "3")
        eff = _effects(log)[1:]
        assert len(eff) == 3 and all(e[:2] == [b"SREM", b"s"] for e in eff)
        log.clear()
        c.cmd("SPOP", "s", "0")
        c.cmd("SPOP", "s", "100")
        c.cmd("SPOP", "s", "100")
        assert _effects(log) == [[b"DEL", b"s"]]
        log.clear()
        c.cmd("SADD", "a", "1")
        c.cmd("SMOVE", "a", "b", "1")
        c.cmd("SMOVE", "a", "b", "1")
        c.cmd("SINTERSTORE", "d", "b", "nokey")
        c.cmd("SUNIONSTORE", "d", "b")
        c.cmd("SINTERSTORE", "d", "b", "nokey")
        assert _effects(log) == [[b"SADD", b"a", b"1"], [b"SMOVE", b"a", b"b", b"1"],
                                 [b"SUNIONSTORE", b"d", b"b"],
                                 [b"SINTERSTORE", b"d", b"b", b"nokey"]]
    finally:
        c.close()


def test_dirty(emb):
    srv, _ = emb
    c = Raw(srv.port)
    try:
        s = srv.server
        c.cmd("DEL", "s", "t")
        d0 = s.dirty
        c.cmd("SADD", "s", "a", "b", "a")
        assert s.dirty - d0 == 2
        d0 = s.dirty
        c.cmd("SMOVE", "s", "t", "a")
        assert s.dirty - d0 == 2
        d0 = s.dirty
        c.cmd("SADD", "s", "a")
        c.cmd("SMOVE", "s", "t", "a")
        assert s.dirty - d0 == 2
        d0 = s.dirty
        c.cmd("SPOP", "t", "10")
        assert s.dirty - d0 == 1
    finally:
        c.close()


def _htstats_facts(text):
    t0 = text.split("Hash table 1")[0]
    size = int(re.search(r"table size: (\d+)", t0).group(1)) if "table size" in t0 else 0
    slots = re.search(r"different slots: (\d+)", t0)
    chain = re.search(r"max chain length: (\d+)", t0)
    return (size, "rehashing target" in text,
            int(slots.group(1)) if slots else None, int(chain.group(1)) if chain else None)


def test_htstats_key_follows_shrink_and_rehash(tmp_path):
    """Redis's 'SRANDMEMBER with a dict containing long chain' scenario: a set's table
    does not shrink while a child process exists, shrinks (rehashing) after, rehashes
    incrementally while SRANDMEMBER runs, and SSCAN-ordered removals leave the last
    members in one bucket."""
    import subprocess
    from conftest import start_real_redis, start_redislet

    def kill_children(srv):
        out = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True,
                             text=True).stdout.split()
        for pid in out:
            subprocess.run(["kill", "-9", pid])

    def wait_no_bgsave(r):
        deadline = time.time() + 30
        while b"rdb_bgsave_in_progress:1" in r.cmd("INFO", "persistence"):
            assert time.time() < deadline
            time.sleep(0.05)

    def sscan_first(r, n):
        members, cur = [], b"0"
        while True:
            rep = r.cmd("SSCAN", "myset", cur).split(b"\r\n")
            cur = rep[2]
            for k in range(int(rep[3][1:])):
                members.append(rep[5 + 2 * k])
                if len(members) >= n:
                    return members
            if cur == b"0":
                return members

    outs = []
    for start in (start_redislet, start_real_redis):
        d = tmp_path / start.__name__
        d.mkdir()
        srv = start(d, "--set-max-intset-entries", "0", "--rdb-key-save-delay",
                    "2147483647")
        try:
            r = Raw(srv.port, timeout=60)

            def facts():
                return _htstats_facts(r.cmd("DEBUG", "HTSTATS-KEY", "myset").decode())
            for i in range(0, 100000, 10000):
                r.cmd("SADD", "myset", *["m:%d" % j for j in range(i, i + 10000)])
            while facts()[1]:
                r.cmd("SRANDMEMBER", "myset", "100")
            out = [facts()[:2]]                  # (chains depend on the hash seed)
            r.cmd("BGSAVE")
            r.cmd("SREM", "myset", *sscan_first(r, 100000 - 500))
            out.append(facts()[:2])              # no shrink with a child
            kill_children(srv)
            wait_no_bgsave(r)
            r.cmd("SPOP", "myset", "1")
            out.append(facts()[:2])              # shrinking: rehashing to 512
            r.cmd("BGSAVE")
            while facts()[1]:
                r.cmd("SRANDMEMBER", "myset", "1")
            out.append(facts()[:2])
            kill_children(srv)
            wait_no_bgsave(r)
            r.cmd("SREM", "myset", *sscan_first(r, 499 - 30))
            out.append(facts())
            outs.append(out)
        finally:
            srv.stop()
    assert outs[0] == outs[1]
    assert outs[0][-1] == (512, True, 1, 30)
