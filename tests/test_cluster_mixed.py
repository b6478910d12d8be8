"""Redis Cluster with real redis-server (Debian's 7.0.15) and redislet nodes, alone and mixed.

Each configuration is one small cluster per module run (module-scoped fixtures), built the way
users build them, with redis-cli --cluster create, and driven with redis-py's RedisCluster and
raw RESP:

  a. 3 masters + 3 replicas, masters of one kind and replicas of the other (or all one kind):
     roles as redis-cli assigns them, traffic over all slots (RESP2 and RESP3), exact MOVED and
     CROSSSLOT errors, pipelines, hash tags;
  b. redis-cli --cluster reshard of 500 slots between masters of different kinds while a
     thread keeps writing; every acknowledged write survives, redis-cli --cluster check is clean;
  c. SIGKILL of a master: its replica of the other kind takes over, no write acknowledged by
     WAIT 1 is lost (the killed node then rejoins as a replica);
  d. CLUSTER FAILOVER on a replica, then back: no data loss.

The all-real configurations are the baseline: they pass against real Redis, which proves the
tests. Helpers: tests/cluster_util.py.
"""
import threading
import time

import pytest

from cluster_util import Cluster, key_in_slot, key_slot, slots_in, split_slots, tools_missing

pytestmark = pytest.mark.skipif(tools_missing() is not None, reason=tools_missing() or "-")

CROSSSLOT = b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"

# config -> (kind of the 3 masters, kind of the 3 replicas)
CONFIGS = {
    "real": ("redis", "redis"),
    "redislet": ("redislet", "redislet"),
    "real-masters+redislet-replicas": ("redis", "redislet"),
    "redislet-masters+real-replicas": ("redislet", "redis"),
}


@pytest.fixture(scope="module", params=list(CONFIGS))
def cl(request, tmp_path_factory):
    """3 masters + 3 replicas by `redis-cli --cluster create m1 m2 m3 r1 r2 r3
    --cluster-replicas 1`: redis-cli makes the first three the masters."""
    mk, rk = CONFIGS[request.param]
    with Cluster(tmp_path_factory.mktemp("cluster-%s-" % request.param)) as c:
        c.start_nodes([mk] * 3 + [rk] * 3)
        c.create(replicas=1, timeout=90)
        c.master_kind, c.replica_kind = mk, rk
        yield c


def pick_pair(c, master_kind, replica_kind, last=False):
    """A live (master, replica) pair of the given kinds: the first in slot order, or the last.
    test_manual_failover takes the first and test_failover_after_kill the last, so that the
    kill never hits a pair whose replica won an election less than 2 * node-timeout ago: Redis
    7.0.15 does not reset a replica's election state (failover_auth_time/count/epoch) when it
    wins, so such a replica "wins" the next election at once with the stale votes and its old
    epoch, which loses against the current master's configEpoch: the cluster stays down
    (seen here ~1 run in 7; fixed in Valkey by valkey-io/valkey#1711)."""
    pairs = c.pairs()
    for m, r in (reversed(pairs) if last else pairs):
        if m.kind == master_kind and r.kind == replica_kind:
            return m, r
    pytest.fail("no %s master with a %s replica now\n%s" % (master_kind, replica_kind,
                                                              c.describe()))


def keys_for(ranges, n, prefix):
    """n keys spread over the slots in ranges: {key: value}."""
    slots = list(slots_in(ranges))
    step = max(1, len(slots) // n)
    return {key_in_slot(slots[(i * step) % len(slots)], "%s:%d" % (prefix, i)):
            "v%d-%s" % (i, prefix) for i in range(n)}


def write_direct(node, data):
    p = node.client().pipeline(transaction=False)
    for k, v in data.items():
        p.set(k, v)
    assert all(p.execute())


def read_direct(node, keys):
    cli = node.client()
    out = {}
    keys = list(keys)
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        p = cli.pipeline(transaction=False)
        for k in chunk:
            p.get(k)
        out.update(zip(chunk, p.execute()))
    return out


def assert_all_present(node, data):
    got = read_direct(node, data)
    missing = [k for k, v in data.items() if got.get(k) != v]
    assert not missing, "%d of %d acknowledged keys lost or wrong on %r, e.g. %r" % (
        len(missing), len(data), node, [(k, data[k], got.get(k)) for k in missing[:5]])


# ------------------------------------------------------------------------------------------
# a. create + traffic

def test_create_assigns_roles(cl):
    """redis-cli makes the first len/(replicas+1) nodes masters (even contiguous slot
    ranges) and the rest one replica each."""
    init = cl.initial
    assert init["masters"] == cl.nodes[:3]
    assert [m.kind for m in init["masters"]] == [cl.master_kind] * 3
    assert sorted(init["replica_of"], key=lambda n: n.port) == sorted(cl.nodes[3:],
                                                                       key=lambda n: n.port)
    assert sorted(init["replica_of"].values(), key=lambda n: n.port) == sorted(
        cl.nodes[:3], key=lambda n: n.port)                     # one replica per master
    assert [init["slots"][m] for m in cl.nodes[:3]] == [[(0, 5460)], [(5461, 10922)],
                                                        [(10923, 16383)]]
    for r in cl.nodes[3:]:
        assert r.kind == cl.replica_kind
    res = cl.check()
    assert res.returncode == 0, res.output
    assert "[OK] All 16384 slots covered." in res.output


@pytest.mark.parametrize("protocol", [2, 3])
def test_set_get_all_slots(cl, protocol):
    rc = cl.client(protocol=protocol)
    data = {key_in_slot(i * 16384 // 200 + (i % 7), "traffic:%d:%d" % (protocol, i)):
            "val-%d-%d" % (protocol, i) for i in range(200)}
    for k, v in data.items():
        assert rc.set(k, v) is True
    for k, v in data.items():
        assert rc.get(k) == v
    owners = {cl.master_for_slot(key_slot(k)) for k in data}
    assert len(owners) == 3
    for m in owners:                       # each key really lives on its slot's master
        mine = {k: v for k, v in data.items() if cl.master_for_slot(key_slot(k)) is m}
        assert read_direct(m, mine) == mine
    assert rc.delete(*[k for k in data][:1]) == 1


def test_moved_exact(cl):
    masters = cl.masters()
    assert len(masters) == 3
    for owner in masters:
        slot = cl.slots_of(owner)[0][0] + 17
        key = key_in_slot(slot, "moved")
        for other in masters + cl.replicas_of(owner):
            if other is owner:
                continue
            conn = other.raw()
            try:
                assert conn.cmd("GET", key) == b"-MOVED %d 127.0.0.1:%d\r\n" % (slot, owner.port)
                assert conn.cmd("SET", key, "x") == b"-MOVED %d 127.0.0.1:%d\r\n" % (slot,
                                                                                     owner.port)
            finally:
                conn.close()
        conn = owner.raw()
        try:
            assert conn.cmd("SET", key, "here") == b"+OK\r\n"
            assert conn.cmd("GET", key) == b"$4\r\nhere\r\n"
        finally:
            conn.close()
    # redis-py follows MOVED (its slot cache made stale on purpose, where it has one)
    rc = cl.client()
    key = key_in_slot(cl.slots_of(masters[1])[0][0] + 5, "moved-rc")
    cache = getattr(getattr(rc, "nodes_manager", None), "slots_cache", None)
    if isinstance(cache, dict):
        cache[key_slot(key)] = [rc.get_node(masters[0].host, masters[0].port)]
    assert rc.set(key, "1") is True
    assert rc.get(key) == "1"


def test_crossslot_exact(cl):
    owner = cl.masters()[0]
    s = cl.slots_of(owner)[0][0]
    k1, k2 = key_in_slot(s + 1, "a"), key_in_slot(s + 2, "b")      # both on owner
    k3 = key_in_slot(cl.slots_of(cl.masters()[2])[0][0] + 3, "c")   # on another master
    for node in (owner, cl.masters()[1]):
        conn = node.raw()
        try:
            for args in (("MSET", k1, "1", k2, "2"), ("MGET", k1, k2), ("DEL", k1, k2),
                         ("MSET", k1, "1", k3, "3"), ("SUNIONSTORE", k1, k2, k3),
                         ("RENAME", k1, k3)):
                assert conn.cmd(*args) == CROSSSLOT, args
        finally:
            conn.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_pipeline(cl, protocol):
    rc = cl.client(protocol=protocol)
    keys = [key_in_slot(i * 53 % 16384, "pipe:%d:%d" % (protocol, i)) for i in range(300)]
    p = rc.pipeline()
    for i, k in enumerate(keys):
        p.set(k, i)
        p.incr(k)
    res = p.execute()
    assert res == [x for i in range(300) for x in (True, i + 1)]
    p = rc.pipeline()
    for k in keys:
        p.get(k)
    assert p.execute() == [str(i + 1) for i in range(300)]


@pytest.mark.parametrize("protocol", [2, 3])
def test_hash_tags(cl, protocol):
    rc = cl.client(protocol=protocol)
    probe = cl.masters()[0].raw()
    try:
        for k in ("{user1000}.following", "{user1000}.followers", "foo{}{bar}",
                  "foo{{bar}}zap", "foo{bar}{zap}", "{}", "a{b", "{user1000}"):
            assert probe.cmd("CLUSTER", "KEYSLOT", k) == b":%d\r\n" % key_slot(k), k
    finally:
        probe.close()
    tag = "{user:%d}" % protocol
    a, b, c = tag + ":name", tag + ":age", tag + ":set"
    assert key_slot(a) == key_slot(b) == key_slot(c) == key_slot(tag[1:-1])
    assert rc.mset({a: "ann", b: "33"}) is True
    assert rc.mget([a, b]) == ["ann", "33"]
    assert rc.sadd(c, "x", "y") == 2
    assert rc.execute_command("RENAME", b, tag + ":age2") in (True, "OK")
    assert rc.get(tag + ":age2") == "33"
    owner = cl.master_for_slot(key_slot(tag))
    conn = owner.raw()
    try:
        assert conn.cmd("MSET", a, "bob", b, "44") == b"+OK\r\n"
        assert conn.cmd("MGET", a, b) == b"*2\r\n$3\r\nbob\r\n$2\r\n44\r\n"
    finally:
        conn.close()
    ours = {a, b, c, tag + ":age2"}
    assert owner.call("CLUSTER", "COUNTKEYSINSLOT", key_slot(tag)) >= 4
    assert ours <= set(owner.call("CLUSTER", "GETKEYSINSLOT", key_slot(tag), 1000))
    conn = owner.raw()
    try:
        assert conn.cmd("GET", tag + ":age2") == b"$2\r\n33\r\n"
    finally:
        conn.close()
    tx = rc.pipeline(transaction=True)           # MULTI/EXEC on one slot
    tx.incr(tag + ":n")
    tx.incr(tag + ":n")
    tx.get(tag + ":n")
    assert tx.execute() == [1, 2, "2"]


MANUAL_CONFIGS = {       # (master kinds, replica kinds): replica i follows master i
    "real": (("redis", "redis", "redis"), ("redis", "redis", "redis")),
    "crossed": (("redis", "redislet", "redis"), ("redislet", "redis", "redis")),
}


@pytest.mark.parametrize("config", list(MANUAL_CONFIGS))
def test_create_manual_exact_pairs(config, tmp_path):
    """create_cluster_manual (ADDSLOTSRANGE + MEET + REPLICATE) gives exactly the pairing
    asked for: "crossed" has a real master with a redislet replica and a redislet master with
    a real replica in one cluster."""
    mkinds, rkinds = MANUAL_CONFIGS[config]
    with Cluster(tmp_path) as c:
        nodes = c.start_nodes(list(mkinds) + list(rkinds))
        masters, replicas = nodes[:3], nodes[3:]
        c.create_manual(masters, dict(zip(replicas, masters)), timeout=60)
        assert c.initial["replica_of"] == dict(zip(replicas, masters))
        assert [c.initial["slots"][m] for m in masters] == [[r] for r in split_slots(3)]
        for r, m in zip(replicas, masters):
            assert c.replicas_of(m) == [r]
            assert r.info("replication")["master_port"] == str(m.port)
        rc = c.client(protocol=3)
        data = {key_in_slot(i * 331, "manual:%d" % i): str(i) for i in range(50)}
        for k, v in data.items():
            assert rc.set(k, v) is True
        assert [rc.get(k) for k in data] == list(data.values())
        res = c.check()
        assert res.returncode == 0 and "[OK] All 16384 slots covered." in res.output, res.output


# ------------------------------------------------------------------------------------------
# d. manual failover (before c, which kills a node)

def test_manual_failover(cl):
    """CLUSTER FAILOVER (default form) on a replica of the configuration's replica kind:
    it becomes master with every write the old master acknowledged before the command
    (no WAIT); then the old master takes its role back the same way."""
    m, r = pick_pair(cl, cl.master_kind, cl.replica_kind)
    data = keys_for(cl.slots_of(m), 300, "mf1")
    write_direct(m, data)
    cl.failover(r, timeout=30)
    cl.wait_ok(timeout=30, replica_of={m: r})
    assert r.role() == "master" and m.role() == "slave"
    assert_all_present(r, data)

    more = keys_for(cl.slots_of(r), 100, "mf2")
    write_direct(r, more)
    cl.failover(m, timeout=30)                   # and back
    cl.wait_ok(timeout=30, replica_of={r: m})
    assert m.role() == "master"
    assert_all_present(m, {**data, **more})
    rc = cl.client()
    k = next(iter(more))
    assert rc.get(k) == more[k]


# ------------------------------------------------------------------------------------------
# c. failover after SIGKILL

def test_failover_after_kill(cl):
    """SIGKILL a master of the configuration's master kind: its replica (replica kind)
    is promoted within 30 s, cluster_state returns to ok everywhere, and every write the
    master acknowledged and WAIT 1 confirmed is on the new master. The killed node, restarted,
    comes back as a replica of the new master."""
    m, r = pick_pair(cl, cl.master_kind, cl.replica_kind, last=True)
    slots = cl.slots_of(m)
    data = keys_for(slots, 500, "fo")
    write_direct(m, data)
    assert m.client().execute_command("WAIT", 1, 5000) >= 1
    m.kill()
    t0 = time.monotonic()
    new = cl.wait_failover(m, timeout=30, candidates=[r])
    took = time.monotonic() - t0
    assert new is r and r.kind == cl.replica_kind
    assert r.role() == "master"
    assert cl.slots_of(r) == slots, took
    assert_all_present(r, data)
    rc = cl.client()                             # the cluster client sees the new owner
    k = next(iter(data))
    assert rc.get(k) == data[k]
    assert rc.set(k, "after") is True
    assert read_direct(r, [k]) == {k: "after"}

    m.restart()                                  # rejoins as a replica of r
    cl.wait_ok(timeout=60, replica_of={m: r}, replicas_per_master=1)
    assert m.role() == "slave"


# ------------------------------------------------------------------------------------------
# b. resharding under load

RESHARD_CONFIGS = {                       # the 3 masters' kinds
    "real": ("redis", "redis", "redis"),
    "mixed": ("redis", "redislet", "redis"),
    "redislet": ("redislet", "redislet", "redislet"),
}


@pytest.fixture(scope="module")
def rs(request, tmp_path_factory):
    """3 masters, no replicas, by redis-cli --cluster create --cluster-replicas 0."""
    kinds = RESHARD_CONFIGS[request.param]
    with Cluster(tmp_path_factory.mktemp("reshard-%s-" % request.param)) as c:
        c.start_nodes(list(kinds))
        c.create(replicas=0, timeout=90)
        yield c


class Writer(threading.Thread):
    """Keeps writing through a RedisCluster client (which follows MOVED and ASK): new keys,
    most of them in the slots being moved, and overwrites. `acked`: key -> last value whose
    SET returned OK; `errors`: the writes that raised."""

    def __init__(self, c, hot_slots, tag):
        super().__init__(daemon=True)
        self.rc = c.client(protocol=2)
        self.hot = list(hot_slots)
        self.tag = tag
        self.acked = {}
        self.errors = []
        self.stop_ev = threading.Event()
        self.n = 0

    def run(self):
        i = 0
        while not self.stop_ev.is_set() and len(self.errors) < 50:
            if i % 4 == 3 and self.acked:        # overwrite a recent key
                key = key_in_slot(self.hot[(i // 4) % len(self.hot)], "%s:%d" % (self.tag, i - 3))
            elif i % 10 == 9:                    # anywhere
                key = key_in_slot(i * 7919 % 16384, "%s:%d" % (self.tag, i))
            else:
                key = key_in_slot(self.hot[i % len(self.hot)], "%s:%d" % (self.tag, i))
            val = "%s-%d" % (self.tag, i)
            try:
                if self.rc.set(key, val) is True:
                    self.acked[key] = val
                else:
                    self.errors.append((key, "reply not OK"))
            except Exception as e:        # noqa: BLE001 - every failure is reported
                self.errors.append((key, repr(e)))
            i += 1
            self.n = i

    def stop(self):
        self.stop_ev.set()
        self.join(30)
        assert not self.is_alive(), "writer thread stuck"


MOVE = 200     # slots per reshard (redis-cli moves them one by one)


@pytest.mark.parametrize("src_i,dst_i", [(0, 1), (1, 0)], ids=["m0-to-m1", "m1-to-m0"])
@pytest.mark.parametrize("rs", list(RESHARD_CONFIGS), indirect=True)
def test_reshard_under_load(rs, src_i, dst_i):
    """redis-cli --cluster reshard moves MOVE slots from master src_i to master dst_i while a
    thread writes (mostly into those slots); "mixed" has masters (redis, redislet, redis), so
    m0-to-m1 is real -> redislet and m1-to-m0 redislet -> real."""
    src, dst = rs.nodes[src_i], rs.nodes[dst_i]
    view = rs.wait_ok(timeout=30).view
    before_src = sum(e - s + 1 for s, e, m, _ in view if m[1] == src.port)
    before_dst = sum(e - s + 1 for s, e, m, _ in view if m[1] == dst.port)
    moving = sorted(slots_in(rs.slots_of(src)))[:MOVE]     # redis-cli takes the lowest slots
    tag = "rs%d%d" % (src_i, dst_i)
    # data to migrate: 2 keys in each slot that moves, written before
    pre = {key_in_slot(s, "%s:pre%d" % (tag, j)): "pre-%d-%d" % (s, j)
           for s in moving for j in range(2)}
    write_direct(src, pre)

    w = Writer(rs, moving, tag)
    w.start()
    try:
        rs.wait_for(lambda: w.n >= 50 or not w.is_alive(), 30, 0.05, "the writer to start")
        n0 = w.n
        res = rs.reshard(src, dst, MOVE, timeout=180)
        n1 = w.n
        time.sleep(0.5)                      # some writes after the move too
    finally:
        w.stop()
    assert not w.errors, "writes failed during resharding: %r" % w.errors[:5]
    assert n1 > n0, "no write happened while resharding"
    assert "Moving slot" in res.output

    view = rs.wait_ok(timeout=30).view
    assert sum(e - s + 1 for s, e, m, _ in view if m[1] == src.port) == before_src - MOVE
    assert sum(e - s + 1 for s, e, m, _ in view if m[1] == dst.port) == before_dst + MOVE
    for s in (moving[0], moving[MOVE // 2], moving[-1]):
        assert rs.master_for_slot(s) is dst
        assert src.call("CLUSTER", "COUNTKEYSINSLOT", s) == 0
        assert dst.call("CLUSTER", "COUNTKEYSINSLOT", s) >= 2

    chk = rs.check()
    assert chk.returncode == 0, chk.output
    assert "[OK] All nodes agree about slots configuration." in chk.output
    assert "[OK] All 16384 slots covered." in chk.output
    assert "open" not in chk.output.replace(">>> Check for open slots...", ""), chk.output

    # every acknowledged write is readable, through the cluster client
    rc = rs.client(protocol=3)
    expect = {**pre, **w.acked}
    keys = list(expect)
    got = {}
    for i in range(0, len(keys), 1000):
        p = rc.pipeline()
        chunk = keys[i:i + 1000]
        for k in chunk:
            p.get(k)
        got.update(zip(chunk, p.execute()))
    bad = [k for k in keys if got[k] != expect[k]]
    assert not bad, "%d of %d acknowledged writes lost/wrong, e.g. %r" % (
        len(bad), len(keys), [(k, expect[k], got[k]) for k in bad[:5]])
