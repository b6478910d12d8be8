"""Cluster mode, the keyspace side: hash slots, the per-slot key index (COUNTKEYSINSLOT /
GETKEYSINSLOT), redirections (MOVED / ASK / TRYAGAIN / CROSSSLOT / CLUSTERDOWN) for plain
commands, MULTI/EXEC, scripts and blocked clients, cluster-mode restrictions (SELECT, MOVE,
SWAPDB, COPY DB), sharded pub/sub per slot, READONLY on replicas.

Differential: the same commands go to a two-node cluster of real redis-server 7.0.15 nodes
and to a two-node cluster of redislet nodes, and the raw reply bytes must be identical
once the node ports (which differ) are replaced by a placeholder. Each cluster is
    main   owns slots 0-16000      (the node the tests talk to)
    helper owns slots 16001-16383  (MOVED/ASK targets, IMPORTING source)
"""
import os
import re
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import REDIS_SERVER, Raw, encode_command  # noqa: E402
from cluster_util import key_in_slot, key_slot, start_node, wait_for  # noqa: E402

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs Debian's redis-server")

MAIN_LAST = 16000
HELPER_SLOT = 16100          # a slot the helper owns
HK = key_in_slot(HELPER_SLOT, "k")


def _wait_ok(nodes, known, timeout=30):
    def ok():
        for n in nodes:
            info = n.cluster_info()
            if (info.get("cluster_state") != "ok"
                    or info.get("cluster_known_nodes") != str(known)
                    or info.get("cluster_slots_assigned") != "16384"):
                return False
        return True
    wait_for(ok, timeout, what="cluster ok",
             describe=lambda: "\n".join(n.call("CLUSTER", "NODES") for n in nodes))


class Setup:
    """main + helper (of one kind, or helper_kind), met, slots split, state ok."""

    def __init__(self, kind, tmpdir, helper_kind=None):
        self.kind = kind
        self.nodes = []
        self.main = self._start(kind, tmpdir, "main")
        self.helper = self._start(helper_kind or kind, tmpdir, "helper-of-" + kind)
        self.main.call("CLUSTER", "SET-CONFIG-EPOCH", "1")
        self.helper.call("CLUSTER", "SET-CONFIG-EPOCH", "2")
        self.main.call("CLUSTER", "ADDSLOTSRANGE", "0", str(MAIN_LAST))
        self.helper.call("CLUSTER", "ADDSLOTSRANGE", str(MAIN_LAST + 1), "16383")
        self.main.call("CLUSTER", "MEET", "127.0.0.1", str(self.helper.port),
                       str(self.helper.cport))
        _wait_ok([self.main, self.helper], 2)
        self.main_id = self.main.node_id
        self.helper_id = self.helper.node_id
        self.subs = {self.main_id.encode(): b"<MAIN-ID>",
                     self.helper_id.encode(): b"<HELPER-ID>",
                     b":%d" % self.main.port: b":<MAIN>",
                     b":%d" % self.helper.port: b":<HELPER>"}

    def _start(self, kind, tmpdir, name):
        n = start_node(kind, tmpdir, name="%s-%s" % (kind, name))
        self.nodes.append(n)
        return n

    def norm(self, data):
        for a, b in self.subs.items():
            data = data.replace(a, b)
        return data

    def stop(self):
        for n in self.nodes:
            n.kill()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clks")
    setups = []
    try:
        setups.append(Setup("redis", tmp))
        setups.append(Setup("redislet", tmp))
        yield Pair(*setups)
    finally:
        for s in setups:
            s.stop()


class Conn:
    def __init__(self, setup, node=None):
        self.setup = setup
        self.raw = Raw((node or setup.main).port, timeout=10)

    def cmd(self, *args):
        return self.setup.norm(self.raw.cmd(*args))

    def close(self):
        self.raw.close()


class Pair:
    def __init__(self, real, mine):
        self.real = real
        self.mine = mine

    def conns(self, node="main"):
        return (Conn(self.real, getattr(self.real, node)),
                Conn(self.mine, getattr(self.mine, node)))

    def call(self, *args, node="main"):
        """A command on both main nodes' control connections (its replies returned)."""
        return [getattr(s, node).call(*args) for s in (self.real, self.mine)]

    def both(self, setup_fn):
        for s in (self.real, self.mine):
            setup_fn(s)


def same(cs, *args):
    """Send args on both connections; the normalised replies must be identical."""
    a, b = (c.cmd(*args) for c in cs)
    if args[0] == "HELLO":
        a, b = (re.sub(rb"\$2\r\nid\r\n:\d+", b"id", x) for x in (a, b))
    assert a == b, "%r:\n  redis:    %r\n  redislet: %r" % (args, a, b)
    return a


@pytest.fixture
def cs(pair):
    """A fresh connection to each main node, on an empty db 0."""
    conns = pair.conns()
    same(conns, "FLUSHALL")
    yield conns
    for c in conns:
        c.close()


# -- hash slots -------------------------------------------------------------------------------
KEYSLOT_KEYS = ["", "foo", "bar", "{user1000}.following", "{user1000}.followers", "foo{}{bar}",
                "foo{{bar}}zap", "foo{bar}{zap}", "{bar", "bar}", "}{", "{}", "{a}", "a{b}c",
                "123456789", "key:__rand_int__", "\xff\x00{\x01}", "{{}}", "x" * 1000]


def test_keyslot(cs):
    for k in KEYSLOT_KEYS:
        same(cs, "CLUSTER", "KEYSLOT", k)
    for i in range(300):
        same(cs, "CLUSTER", "KEYSLOT", "key:%d" % (i * 7919))


def test_key_hash_slot_unit():
    from redislet.cluster.slots import key_hash_slot, crc16, crc16_table
    from redis.crc import key_slot as ref
    for k in KEYSLOT_KEYS + ["k%d" % i for i in range(2000)]:
        b = k.encode("latin-1")
        assert key_hash_slot(b) == ref(b), k
        assert crc16(b) == crc16_table(b)
    assert crc16(b"123456789") == 0x31C3


# -- the key index --------------------------------------------------------------------------
def _slot_state(cs, slots):
    for s in slots:
        same(cs, "CLUSTER", "COUNTKEYSINSLOT", str(s))
        same(cs, "CLUSTER", "GETKEYSINSLOT", str(s), "100")


def test_countkeys_getkeys_writes_deletes(cs):
    tag = "{t1}"
    slot = key_slot(tag)
    for i in range(20):
        same(cs, "SET", "%sk%d" % (tag, i), "v")
    same(cs, "HSET", tag + "h", "f", "v")
    same(cs, "RPUSH", tag + "l", "a", "b")
    same(cs, "SADD", tag + "s", "m")
    same(cs, "ZADD", tag + "z", "1", "m")
    same(cs, "XADD", tag + "x", "1-1", "f", "v")
    same(cs, "SET", tag + "k3", "overwrite")            # an overwrite keeps its place
    same(cs, "APPEND", tag + "k4", "more")
    same(cs, "INCR", tag + "n")
    _slot_state(cs, [slot])
    same(cs, "CLUSTER", "GETKEYSINSLOT", str(slot), "3")
    same(cs, "CLUSTER", "GETKEYSINSLOT", str(slot), "0")
    same(cs, "DEL", tag + "k5", tag + "k7")
    same(cs, "UNLINK", tag + "k9")
    same(cs, "LPOP", tag + "l", "2")                     # emptied: deleted
    same(cs, "SET", tag + "k5", "back")                 # re-added: newest again
    same(cs, "RENAME", tag + "k1", tag + "renamed")
    same(cs, "RENAME", tag + "k2", tag + "k10")          # onto an existing key
    same(cs, "MSET", tag + "m1", "1", tag + "k11", "2", tag + "m2", "3")
    same(cs, "MSETNX", tag + "m3", "1", tag + "m4", "2")
    same(cs, "GETDEL", tag + "k12")
    same(cs, "COPY", tag + "k13", tag + "copy")
    same(cs, "COPY", tag + "k14", tag + "copy", "REPLACE")
    same(cs, "SMOVE", tag + "s", tag + "s2", "m")
    same(cs, "LMOVE", tag + "nolist", tag + "l2", "LEFT", "RIGHT")
    same(cs, "SUNIONSTORE", tag + "su", tag + "s2")
    same(cs, "SETEX", tag + "ex", "100", "v")
    same(cs, "PERSIST", tag + "ex")
    _slot_state(cs, [slot])
    same(cs, "CLUSTER", "COUNTKEYSINSLOT", "16384")
    same(cs, "CLUSTER", "COUNTKEYSINSLOT", "-1")
    same(cs, "CLUSTER", "GETKEYSINSLOT", str(slot), "-1")
    same(cs, "CLUSTER", "GETKEYSINSLOT", "99999", "1")
    same(cs, "DBSIZE")


def test_index_restore_and_dump(cs):
    tag = "{t2}"
    slot = key_slot(tag)
    same(cs, "SET", tag + "a", "1")
    same(cs, "SET", tag + "b", "2")
    payload = same(cs, "DUMP", tag + "a").split(b"\r\n", 1)[1][:-2]
    same(cs, "RESTORE", tag + "c", "0", payload)
    same(cs, "RESTORE", tag + "a", "0", payload, "REPLACE")   # delete + add: newest
    _slot_state(cs, [slot])


def test_index_expiry(cs):
    tag = "{t3}"
    slot = key_slot(tag)
    same(cs, "SET", tag + "a", "1", "PX", "30")
    same(cs, "SET", tag + "b", "1")
    same(cs, "SET", tag + "c", "1", "PX", "30")
    time.sleep(0.1)
    same(cs, "GET", tag + "a")                           # lazy expiry
    wait_for(lambda: all(c.cmd("CLUSTER", "COUNTKEYSINSLOT", str(slot)) == b":1\r\n"
                         for c in cs), 10, what="active expiry")
    _slot_state(cs, [slot])


def test_index_flush_and_reload(cs):
    tags = ["{t4}", "{t5}", "{t6}"]
    for t in tags:
        for i in range(5):
            same(cs, "SET", "%s%d" % (t, i), "v")
    same(cs, "FLUSHDB")
    _slot_state(cs, [key_slot(t) for t in tags])
    for t in tags:
        same(cs, "SET", t + "x", "v")
        same(cs, "SET", t + "y", "v")
    same(cs, "FLUSHALL", "ASYNC")
    _slot_state(cs, [key_slot(t) for t in tags])
    for t in tags:
        for i in range(5):
            same(cs, "SET", "%s%d" % (t, i), "v")
    same(cs, "DEBUG", "RELOAD")
    for t in tags:
        s = str(key_slot(t))
        same(cs, "CLUSTER", "COUNTKEYSINSLOT", s)
        # after a reload the order is the RDB file's (Redis: hash table order)
        a, b = (sorted(c.raw.cmd("CLUSTER", "GETKEYSINSLOT", s, "10").split(b"\r\n"))
                for c in cs)
        assert a == b
    same(cs, "DEBUG", "POPULATE", "50", "pop")
    same(cs, "DBSIZE")
    for i in range(0, 50, 7):
        s = str(key_slot("pop:%d" % i))
        same(cs, "CLUSTER", "COUNTKEYSINSLOT", s)
        same(cs, "CLUSTER", "GETKEYSINSLOT", s, "10")


# -- cluster-mode restrictions ----------------------------------------------------------------
def test_db_restrictions(cs):
    same(cs, "SET", "a", "1")
    same(cs, "SELECT", "1")
    same(cs, "SELECT", "0")
    same(cs, "SELECT", "99")
    same(cs, "SELECT", "x")
    same(cs, "MOVE", "a", "1")
    same(cs, "SWAPDB", "0", "1")
    same(cs, "COPY", "a", "b", "DB", "1")
    same(cs, "COPY", "a", "{a}b", "DB", "0")
    same(cs, "REPLICAOF", "127.0.0.1", "1")
    same(cs, "FAILOVER")
    same(cs, "INFO", "keyspace")


# -- redirections -----------------------------------------------------------------------------
def test_crossslot(cs):
    same(cs, "MSET", "a", "1", "b", "2")
    same(cs, "MGET", "a", "b")
    same(cs, "MGET", "a", "a")
    same(cs, "DEL", "a", "b", "c")
    same(cs, "RENAME", "a", "b")
    same(cs, "SUNIONSTORE", "a", "b", "c")
    same(cs, "ZUNIONSTORE", "d", "2", "a", "b")
    same(cs, "ZUNIONSTORE", "{a}d", "1", "a")
    same(cs, "ZINTERCARD", "2", "a", "b")
    same(cs, "LMPOP", "2", "a", "b", "LEFT")
    same(cs, "BLMPOP", "0", "2", "a", "b", "LEFT")
    same(cs, "XREAD", "STREAMS", "a", "b", "0", "0")
    same(cs, "XREAD", "COUNT", "1", "STREAMS", "a", "{a}x", "0", "0")
    same(cs, "SORT", "a", "STORE", "b")
    same(cs, "SORT", "a", "BY", "nosort", "STORE", "{a}b")
    same(cs, "EVAL", "return 1", "2", "a", "b")
    same(cs, "BLPOP", "a", "b", "0")
    same(cs, "BITOP", "AND", "a", "b")
    same(cs, "PFMERGE", "a", "b")
    same(cs, "GEORADIUS", "a", "0", "0", "1", "km", "STORE", "b")
    same(cs, "OBJECT", "ENCODING", "a")
    same(cs, "MSET", "{m}1", "1", "{m}2", "2")
    same(cs, "MGET", "{m}1", "{m}2")
    same(cs, "SSUBSCRIBE", "a", "b")
    same(cs, "SPUBLISH", "a", "m")
    same(cs, "INFO", "errorstats")


def test_moved(cs):
    same(cs, "GET", HK)
    same(cs, "SET", HK, "v")
    same(cs, "MGET", HK, key_in_slot(HELPER_SLOT, "other"))
    same(cs, "EVAL", "return 1", "1", HK)
    same(cs, "EVALSHA", "a" * 40, "1", HK)
    same(cs, "FCALL", "f", "1", HK)
    same(cs, "XREAD", "STREAMS", HK, "0")
    same(cs, "SPUBLISH", HK, "m")
    same(cs, "SSUBSCRIBE", HK)
    same(cs, "MIGRATE", "127.0.0.1", "1", HK, "0", "10")
    same(cs, "PING")
    same(cs, "PUBLISH", HK, "m")           # PUBLISH has no keys: never redirected
    same(cs, "EXISTS", HK)
    same(cs, "GETKEYSINSLOT")              # unknown command
    same(cs, "GET")                        # arity first
    same(cs, "INFO", "errorstats")


def test_moved_resp3(cs):
    same(cs, "HELLO", "3")
    same(cs, "GET", HK)
    same(cs, "SET", "{m}a", "1")
    same(cs, "MGET", "a", "b")
    same(cs, "HELLO", "2")


def test_multi_exec(cs):
    same(cs, "MULTI")
    same(cs, "SET", "{m}a", "1")
    same(cs, "SET", HK, "1")               # MOVED while queueing flags the transaction
    same(cs, "EXEC")
    same(cs, "MULTI")
    same(cs, "SET", "a", "1")
    same(cs, "SET", "b", "1")              # each queued command alone is fine
    same(cs, "EXEC")                       # the whole transaction is cross slot
    same(cs, "EXEC")                       # (discarded)
    same(cs, "MULTI")
    same(cs, "SET", "{m}a", "1")
    same(cs, "GET", "{m}b")
    same(cs, "EXEC")
    same(cs, "MULTI")
    same(cs, "PING")
    same(cs, "EXEC")
    same(cs, "MULTI")
    same(cs, "MGET", "a", "b")             # CROSSSLOT while queueing
    same(cs, "EXEC")
    same(cs, "MULTI")
    same(cs, "GET", "a")
    same(cs, "FOO")                        # an unknown command (error while queueing)
    same(cs, "EXEC")
    same(cs, "INFO", "errorstats")


def test_scripts(cs):
    same(cs, "SET", "{m}a", "1")
    same(cs, "EVAL", "return redis.call('get', KEYS[1])", "1", "{m}a")
    same(cs, "EVAL", "return redis.call('get', '{m}a')", "0")
    same(cs, "EVAL", "return redis.call('get', '%s')" % HK, "0")
    same(cs, "EVAL", "return redis.pcall('get', '%s')" % HK, "0")
    same(cs, "EVAL", "redis.call('get', 'a'); return redis.call('get', 'b')", "0")
    same(cs, "EVAL", "#!lua\nredis.call('get', 'a'); return redis.call('get', 'b')", "0")
    same(cs, "EVAL", "#!lua\nreturn redis.call('get', KEYS[1])", "1", "a")
    same(cs, "EVAL", "#!lua\nreturn redis.call('get', 'b')", "1", "a")
    same(cs, "EVAL", "#!lua flags=allow-cross-slot-keys\nredis.call('get', 'a'); "
         "return redis.call('get', 'b')", "0")
    same(cs, "EVAL", "#!lua flags=no-cluster\nreturn 1", "0")
    same(cs, "EVAL", "#!lua\nreturn redis.call('get', '%s')" % HK, "0")
    same(cs, "FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function(k, a) "
         "redis.call('get', 'a'); return redis.call('get', 'b') end)\n"
         "redis.register_function{function_name='g', callback=function(k, a) return 1 end, "
         "flags={'no-cluster'}}")
    same(cs, "FCALL", "f", "0")
    same(cs, "FCALL", "g", "0")
    same(cs, "FUNCTION", "FLUSH")
    same(cs, "MULTI")
    same(cs, "EVAL", "return redis.call('get', KEYS[1])", "1", "{m}a")
    same(cs, "EVAL", "#!lua\nreturn redis.call('get', '{m}b')", "0")
    same(cs, "EXEC")
    same(cs, "INFO", "errorstats")


def test_clusterdown_unbound_and_state(pair, cs):
    slot = 5
    k = key_in_slot(slot, "k")
    other = key_in_slot(6, "k")
    same(cs, "SET", other, "1")
    pair.call("CLUSTER", "DELSLOTS", str(slot))
    try:
        same(cs, "GET", k)
        wait_for(lambda: all(s.main.cluster_info()["cluster_state"] == "fail"
                             for s in (pair.real, pair.mine)), 10, what="cluster fail")
        same(cs, "GET", k)                  # (the unbound slot is found first)
        same(cs, "GET", other)
        same(cs, "SET", other, "2")
        same(cs, "MGET", other, k)
        same(cs, "SPUBLISH", other, "m")
        same(cs, "PING")
        same(cs, "DBSIZE")
        same(cs, "MULTI")
        same(cs, "GET", other)
        same(cs, "EXEC")
        pair.call("CONFIG", "SET", "cluster-allow-reads-when-down", "yes")
        same(cs, "GET", other)
        same(cs, "SET", other, "3")
        same(cs, "EVAL", "return redis.call('get', KEYS[1])", "1", other)
        same(cs, "EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1",
             other)
        same(cs, "EVAL", "#!lua\nreturn 1", "1", other)
        same(cs, "MULTI")
        same(cs, "SET", other, "4")
        same(cs, "EXEC")                    # (EXEC's own flags: not a write)
        pair.call("CONFIG", "SET", "cluster-allow-pubsubshard-when-down", "no")
        same(cs, "SPUBLISH", other, "m")
        same(cs, "INFO", "errorstats")
    finally:
        pair.call("CONFIG", "SET", "cluster-allow-reads-when-down", "no")
        pair.call("CONFIG", "SET", "cluster-allow-pubsubshard-when-down", "yes")
        pair.call("CLUSTER", "ADDSLOTS", str(slot))
        _wait_ok([s.main for s in (pair.real, pair.mine)], 2)


def test_migrating_ask_tryagain(pair, cs):
    slot = 1000
    a, b = key_in_slot(slot, "a"), key_in_slot(slot, "b")
    pair.both(lambda s: s.main.call("CLUSTER", "SETSLOT", str(slot), "MIGRATING",
                                    s.helper_id))
    try:
        same(cs, "SET", a, "1")            # a missing key: ASK
        same(cs, "GET", a)
        same(cs, "EXISTS", a)
        pair.both(lambda s: s.main.call("DEBUG", "SET-ACTIVE-EXPIRE", "1"))
        for s in (pair.real, pair.mine):
            s.main.call("CLUSTER", "SETSLOT", str(slot), "STABLE")
            s.main.call("SET", a, "1")
            s.main.call("CLUSTER", "SETSLOT", str(slot), "MIGRATING", s.helper_id)
        same(cs, "GET", a)                 # present: served here
        same(cs, "MGET", a, b)             # one present, one missing: TRYAGAIN
        same(cs, "DEL", a)
        same(cs, "MGET", a, b)             # both missing: ASK
        same(cs, "MIGRATE", "127.0.0.1", "1", a, "0", "10")   # MIGRATE is never redirected
        same(cs, "SPUBLISH", a, "m")       # shard channels: not looked up
        same(cs, "MULTI")
        same(cs, "GET", a)
        same(cs, "EXEC")
        same(cs, "EVAL", "return redis.call('get', KEYS[1])", "1", a)
        same(cs, "EVAL", "return redis.call('get', '%s')" % a, "0")
        same(cs, "INFO", "errorstats")
    finally:
        pair.call("CLUSTER", "SETSLOT", str(slot), "STABLE")


def test_importing_asking(pair, cs):
    slot = HELPER_SLOT
    a, b = key_in_slot(slot, "a"), key_in_slot(slot, "b")
    pair.both(lambda s: s.main.call("CLUSTER", "SETSLOT", str(slot), "IMPORTING",
                                    s.helper_id))
    try:
        same(cs, "GET", a)                 # no ASKING: MOVED to the owner
        same(cs, "ASKING")
        same(cs, "GET", a)                 # served (nil)
        same(cs, "GET", a)                 # ASKING was for one command
        same(cs, "ASKING")
        same(cs, "SET", a, "1")
        same(cs, "ASKING")
        same(cs, "MGET", a, b)             # one missing: TRYAGAIN
        same(cs, "ASKING")
        same(cs, "MGET", a, a)             # the same key twice is not "multiple keys"
        same(cs, "ASKING")
        same(cs, "PING")
        same(cs, "GET", a)                 # cleared by PING
        same(cs, "ASKING")
        same(cs, "FOO")
        same(cs, "GET", a)                 # cleared by an unknown command too
        same(cs, "ASKING")
        same(cs, "MULTI")
        same(cs, "GET", a)
        same(cs, "SET", b, "2")
        same(cs, "EXEC")
        same(cs, "GET", a)
        same(cs, "MULTI")
        same(cs, "ASKING")
        same(cs, "GET", a)
        same(cs, "EXEC")
        same(cs, "SET", "{m}a", "payload")
        payload = same(cs, "DUMP", "{m}a").split(b"\r\n", 1)[1][:-2]
        same(cs, "RESTORE", b, "0", payload)          # MOVED
        same(cs, "RESTORE-ASKING", b, "0", payload)   # CMD_ASKING: served while importing
        same(cs, "ASKING")
        same(cs, "EVAL", "return redis.call('get', KEYS[1])", "1", a)
        same(cs, "ASKING")
        same(cs, "EVAL", "return redis.call('get', '%s')" % a, "0")
        same(cs, "INFO", "errorstats")
    finally:
        for s in (pair.real, pair.mine):
            s.main.call("ASKING")
            s.main.call("DEL", a, b)
        pair.call("CLUSTER", "SETSLOT", str(slot), "STABLE")


def test_readonly_flag_on_master(cs):
    same(cs, "READONLY")
    a, b = (c.cmd("CLIENT", "INFO") for c in cs)
    fa = re.search(rb" flags=(\w+) ", a).group(1)
    fb = re.search(rb" flags=(\w+) ", b).group(1)
    assert fa == fb == b"r"
    same(cs, "GET", HK)                     # a master: still MOVED
    same(cs, "READWRITE")
    same(cs, "RESET")
    same(cs, "READONLY")
    same(cs, "RESET")
    a, b = (c.cmd("CLIENT", "INFO") for c in cs)
    assert re.search(rb" flags=(\w+) ", a).group(1) == re.search(rb" flags=(\w+) ", b).group(1)


def test_sharded_pubsub(pair, cs):
    ch = key_in_slot(7, "ch")
    ch2 = key_in_slot(7, "ch2")
    same(cs, "SSUBSCRIBE", ch, ch2)
    a, b = ([c.raw.read_reply()] for c in cs)          # (the second channel's reply)
    for c, got in zip(cs, (a, b)):
        c.raw.send(encode_command(["SUNSUBSCRIBE"]))   # in dict order (Redis: hash order)
        got += sorted(re.sub(rb":\d", b":n", c.raw.read_reply()) for _ in range(2))
    assert a == b
    same(cs, "SUNSUBSCRIBE", "x", "y")
    same(cs, "SSUBSCRIBE", ch)
    pubs = pair.conns()
    try:
        same(pubs, "SPUBLISH", ch, "hello")
        a, b = (c.raw.read_reply() for c in cs)
        assert a == b
        same(pubs, "PUBSUB", "SHARDNUMSUB", ch)
        # the slot goes away: subscribers are told (sunsubscribe push)
        same(pubs, "CLUSTER", "DELSLOTS", "7")
        a, b = (c.raw.read_reply() for c in cs)
        assert a == b
        same(pubs, "PUBSUB", "SHARDCHANNELS")
        same(cs, "PING")
    finally:
        pair.call("CLUSTER", "ADDSLOTS", "7")
        _wait_ok([s.main for s in (pair.real, pair.mine)], 2)
        for c in pubs:
            c.close()


def test_sharded_pubsub_resp3(pair, cs):
    ch = key_in_slot(8, "ch")
    same(cs, "HELLO", "3")
    same(cs, "SSUBSCRIBE", ch)
    same(cs, "GET", HK)
    pubs = pair.conns()
    try:
        same(pubs, "CLUSTER", "DELSLOTS", "8")
        a, b = (c.raw.read_reply() for c in cs)
        assert a == b
    finally:
        pair.call("CLUSTER", "ADDSLOTS", "8")
        _wait_ok([s.main for s in (pair.real, pair.mine)], 2)
        for c in pubs:
            c.close()


def test_blocked_client_redirected(pair, cs):
    slot = 9
    k = key_in_slot(slot, "list")
    for c in cs:
        c.raw.send(encode_command(["BLPOP", k, "0"]))
    time.sleep(0.3)
    pair.both(lambda s: s.main.call("CLUSTER", "SETSLOT", str(slot), "NODE", s.helper_id))
    try:
        a, b = (c.setup.norm(c.raw.read_reply()) for c in cs)
        assert a == b == b"-MOVED 9 127.0.0.1:<HELPER>\r\n"
    finally:
        pair.both(lambda s: s.main.call("CLUSTER", "SETSLOT", str(slot), "NODE", s.main_id))
        _wait_ok([s.main for s in (pair.real, pair.mine)], 2)
    same(cs, "PING")


def test_commandstats_rejected(pair, cs):
    same(cs, "CONFIG", "RESETSTAT")
    same(cs, "GET", HK)
    same(cs, "MGET", "a", "b")
    same(cs, "GET", "{m}a")
    a, b = (c.cmd("INFO", "commandstats") for c in cs)
    pick = lambda t: sorted(re.sub(rb"usec=\d+,usec_per_call=[\d.]+,", b"", l)
                            for l in t.split(b"\r\n") if l.startswith(b"cmdstat_"))
    assert pick(a) == pick(b)


# -- replicas: READONLY -----------------------------------------------------------------------
class ReplicaSetup:
    """master (all slots) + replica, one kind."""

    def __init__(self, kind, tmpdir):
        self.nodes = []
        self.master = start_node(kind, tmpdir, name="%s-rmaster" % kind)
        self.nodes.append(self.master)
        self.replica = start_node(kind, tmpdir, name="%s-replica" % kind)
        self.nodes.append(self.replica)
        self.master.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        self.master.call("CLUSTER", "MEET", "127.0.0.1", str(self.replica.port),
                         str(self.replica.cport))
        _wait_ok([self.master, self.replica], 2)
        self.master_id = self.master.node_id
        self.replica.call("CLUSTER", "REPLICATE", self.master_id)
        wait_for(lambda: self.replica.info("replication").get("master_link_status") == "up",
                 30, what="replica link up")
        self.subs = {b":%d" % self.master.port: b":<MASTER>"}

    def norm(self, data):
        for a, b in self.subs.items():
            data = data.replace(a, b)
        return data

    def stop(self):
        for n in self.nodes:
            n.kill()


def test_readonly_replica(tmp_path):
    setups = []
    try:
        setups = [ReplicaSetup("redis", tmp_path), ReplicaSetup("redislet", tmp_path)]
        for s in setups:
            s.master.call("SET", "a", "1")
            s.master.call("RPUSH", "{a}l", "x")
            wait_for(lambda: s.replica.call("DBSIZE") == 2, 10, what="replicated")
        conns = [Conn(s, s.replica) for s in setups]
        for c, s in zip(conns, setups):
            c.setup = s
        same(conns, "GET", "a")                 # MOVED to the master
        same(conns, "READONLY")
        same(conns, "GET", "a")                 # served
        same(conns, "MGET", "a", "{a}b")
        same(conns, "LRANGE", "{a}l", "0", "-1")
        same(conns, "SET", "a", "2")            # writes: MOVED
        same(conns, "EVAL", "return redis.call('get', KEYS[1])", "1", "a")
        same(conns, "EVAL_RO", "return redis.call('get', KEYS[1])", "1", "a")
        same(conns, "EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1",
             "a")
        same(conns, "MULTI")
        same(conns, "GET", "a")
        same(conns, "EXEC")
        same(conns, "MULTI")
        same(conns, "GET", "a")
        same(conns, "INCR", "{a}n")
        same(conns, "EXEC")
        same(conns, "SPUBLISH", "a", "m")
        a, b = (c.cmd("CLIENT", "INFO") for c in conns)
        fa, fb = (re.search(rb" flags=(\w+) ", x).group(1) for x in (a, b))
        assert fa == fb == b"r"
        same(conns, "CLUSTER", "COUNTKEYSINSLOT", str(key_slot("a")))   # after the full sync
        same(conns, "CLUSTER", "GETKEYSINSLOT", str(key_slot("a")), "10")
        same(conns, "READWRITE")
        same(conns, "GET", "a")
        same(conns, "SSUBSCRIBE", "a")          # shard channels: served by replicas
        same(conns, "SUNSUBSCRIBE")
        same(conns, "INFO", "errorstats")
        for c in conns:
            c.close()
    finally:
        for s in setups:
            s.stop()


def test_index_all_slots_sum(cs):
    """Every key of db 0 is in exactly one slot's count (all 16384 slots, pipelined)."""
    same(cs, "DEBUG", "POPULATE", "3000", "sum")
    same(cs, "SET", "{t1}x", "1", "PX", "1")
    same(cs, "DEL", "sum:7", "sum:8")
    same(cs, "DEBUG", "RELOAD")
    for c in cs:
        c.raw.send(b"".join(encode_command(["CLUSTER", "COUNTKEYSINSLOT", str(s)])
                            for s in range(16384)))
        total = sum(int(c.raw.read_reply()[1:-2]) for _ in range(16384))
        assert total == int(c.raw.cmd("DBSIZE")[1:-2])


# -- unit level: the index follows every write path of ClusterDatabase ------------------------
def test_index_consistency_unit(tmp_path):
    import random
    from redislet.config import Config
    from redislet.commands import load_all
    from redislet.server import RedisServer
    from redislet.cluster import keyindex
    from redislet.cluster.slots import key_hash_slot
    load_all()
    cfg = Config()
    cfg.load(None, ["--save", "", "--port", "0", "--cluster-enabled", "yes",
                    "--cluster-config-file", str(tmp_path / "nodes.conf")])
    srv = RedisServer(cfg)
    db = srv.dbs[0]
    assert isinstance(db, keyindex.ClusterDatabase)
    assert type(srv.dbs[1]) is not keyindex.ClusterDatabase
    plain = srv.dbs[1]           # driven alike: ClusterDatabase.set repeats Database.set
    rnd = random.Random(7)
    keys = [b"{t%d}k%d" % (rnd.randrange(8), i) for i in range(60)]

    def check():
        seen = set()
        for s, d in enumerate(db.slot_keys):
            if d is not None:
                assert d, "empty dict kept for slot %d" % s
                for k in d:
                    assert key_hash_slot(k) == s
                    seen.add(k)
        assert seen == set(db.data)

    srv.time_ms = lambda: 10 ** 13
    for step in range(3000):
        op = rnd.randrange(9)
        k = rnd.choice(keys)
        if op == 0 and k not in db.data:
            db.add(k, b"v")
        elif op == 1:
            keep = rnd.random() < 0.5
            plain.data = dict(db.data)
            plain.expires = dict(db.expires)
            plain.lru = dict(db.lru)
            db.set(k, b"v%d" % step, keepttl=keep)
            plain.set(k, b"v%d" % step, keepttl=keep)
            assert (plain.data, plain.expires, plain.lru) == (db.data, db.expires, db.lru)
        elif op == 2:
            ks = rnd.sample(keys, 3)
            db.set_plain(ks, [b"1", b"2", b"3"])
        elif op == 3:
            db.delete(k)
        elif op == 4 and k in db.data:
            db.set_expire(k, 1)
            db.lookup(k)                       # lazily expired
        elif op == 5 and rnd.random() < 0.05:
            db.clear()
        elif op == 6 and rnd.random() < 0.1:
            n = keyindex.count_keys_in_slot(db, key_hash_slot(k))
            assert keyindex.del_keys_in_slot(srv, key_hash_slot(k)) == n
        elif op == 7 and rnd.random() < 0.1:
            db.data = dict(db.data)
            db.replaced_data()
        elif op == 8:
            s = key_hash_slot(k)
            got = keyindex.keys_in_slot(db, s, 1000)
            assert got == list(reversed(list(db.slot_keys[s] or {})))
            assert keyindex.count_keys_in_slot(db, s) == len(got)
        check()


@pytest.mark.parametrize("kinds", [("redislet", "redis"), ("redis", "redislet")],
                         ids=["redislet-main", "redis-main"])
def test_mixed_redirect_targets(tmp_path, kinds):
    """MOVED / ASK name the other kind of node by the address it announced."""
    s = Setup(kinds[0], tmp_path, helper_kind=kinds[1])
    try:
        c = Raw(s.main.port)
        target = b"127.0.0.1:%d" % s.helper.port
        assert c.cmd("GET", HK) == b"-MOVED %d %s\r\n" % (HELPER_SLOT, target)
        assert c.cmd("SET", key_in_slot(3, "a"), "1") == b"+OK\r\n"
        s.main.call("CLUSTER", "SETSLOT", "3", "MIGRATING", s.helper_id)
        assert c.cmd("GET", key_in_slot(3, "b")) == b"-ASK 3 %s\r\n" % target
        assert c.cmd("MGET", key_in_slot(3, "a"), key_in_slot(3, "b")) == (
            b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n")
        h = Raw(s.helper.port)
        s.helper.call("CLUSTER", "SETSLOT", "3", "IMPORTING", s.main_id)
        assert h.cmd("GET", key_in_slot(3, "b")) == b"-MOVED 3 127.0.0.1:%d\r\n" % s.main.port
        assert h.cmd("ASKING") == b"+OK\r\n"
        assert h.cmd("GET", key_in_slot(3, "b")) == b"$-1\r\n"
        c.close()
        h.close()
    finally:
        s.stop()


def test_index_after_restart_aof_and_rdb(tmp_path):
    """The index is rebuilt from the AOF (commands) and from an RDB at start-up."""
    nodes = []
    try:
        for kind in ("redis", "redislet"):
            n = start_node(kind, tmp_path, "--appendonly", "yes", name="%s-aof" % kind)
            nodes.append(n)
            n.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        _wait_ok(nodes, 1)
        tag = "{t1}"
        for n in nodes:
            for i in range(10):
                n.call("SET", "%s%d" % (tag, i), "v")
            n.call("DEL", tag + "3")
            n.call("SET", tag + "3", "again")
            n.call("RPUSH", "{t2}l", "a")
        slot, slot2 = str(key_slot(tag)), str(key_slot("{t2}"))

        def state():
            return [(n.call("CLUSTER", "COUNTKEYSINSLOT", slot),
                     n.call("CLUSTER", "GETKEYSINSLOT", slot, "100"),
                     n.call("CLUSTER", "GETKEYSINSLOT", slot2, "100")) for n in nodes]

        before = state()
        assert before[0] == before[1]
        for n in nodes:          # restart: the AOF is replayed
            n.stop()
            n.restart()
        _wait_ok(nodes, 1)
        after = state()
        assert after[0] == after[1] == before[0]
        for n in nodes:          # an RDB (AOF off): the same keys (the file's order)
            n.call("CONFIG", "SET", "appendonly", "no")
            n.call("SAVE")
            n.argv[n.argv.index("--appendonly") + 1] = "no"
            n.stop()
            n.restart()
        _wait_ok(nodes, 1)
        got = state()
        for g in got:
            assert g[0] == before[0][0]
            assert sorted(g[1]) == sorted(before[0][1])
    finally:
        for n in nodes:
            n.kill()
