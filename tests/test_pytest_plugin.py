"""The pytest plugin (redislet/pytest_plugin.py), as a user's project sees it: pytester writes
a fresh test file (no conftest) and runs pytest in a subprocess, so that the plugin comes in
through the `pytest11` entry point of the installed redislet (pip install -e .)."""
import importlib.metadata
import os
import textwrap

import pytest

pytest_plugins = ["pytester"]


def _entry_point_installed():
    try:
        eps = importlib.metadata.entry_points(group="pytest11")
    except Exception:  # pragma: no cover
        return False
    return any(ep.value == "redislet.pytest_plugin" for ep in eps)


pytestmark = pytest.mark.skipif(
    not _entry_point_installed(),
    reason="redislet's pytest11 entry point is not installed (pip install -e .)")


FIXTURES_TESTS = '''
import sys
import pytest
from redislet.pytest_plugin import redislet_proc, redislet_db

lru_server = redislet_proc(maxmemory="10mb", maxmemory_policy="allkeys-lfu")
lru = redislet_db("lru_server", decode_responses=True)
secured = redislet_proc(requirepass="pw")
secured_db = redislet_db("secured")


def test_plugin_is_lazy():
    # the entry point loaded the plugin, which has imported nothing heavy yet
    assert "redislet.pytest_plugin" in sys.modules
    for mod in ("redislet.server", "redislet.embed", "redislet.launcher", "redis"):
        assert mod not in sys.modules, mod


def test_server_attributes(redislet_server):
    assert redislet_server.host == "127.0.0.1"
    assert redislet_server.port > 0
    assert redislet_server.url == "redis://127.0.0.1:%d" % redislet_server.port
    assert redislet_server.server.port == redislet_server.port     # the RedisServer


def test_first_writes(redislet_client):
    redislet_client.set("k", "v")
    redislet_client.select(2)
    redislet_client.set("k2", "v2")
    redislet_client.function_load(
        "#!lua name=lib\\nredis.register_function('f', function() return 1 end)")


def test_flushed_before_each_test(redislet_client):
    assert redislet_client.dbsize() == 0
    assert redislet_client.function_list() == []
    redislet_client.select(2)
    assert redislet_client.dbsize() == 0


def test_options(redislet_client):
    # --redislet-config databases=5 (command line), ini: maxmemory-policy + hz
    assert redislet_client.config_get("databases") == {"databases": "5"}
    assert redislet_client.config_get("maxmemory-policy") == {
        "maxmemory-policy": "allkeys-lru"}
    assert redislet_client.config_get("hz") == {"hz": "20"}
    # --redislet-protocol 3 and --redislet-decode-responses
    assert redislet_client.connection_pool.connection_kwargs["protocol"] == 3
    assert redislet_client.execute_command("HELLO")["proto"] == 3
    redislet_client.hset("h", mapping={"a": "1"})
    assert redislet_client.hgetall("h") == {"a": "1"}


def test_factories(lru, redislet_server):
    assert lru.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lfu"}
    assert lru.config_get("databases") == {"databases": "5"}   # command-line directives too
    assert lru.connection_pool.connection_kwargs["port"] != redislet_server.port
    lru.set("x", "1")
    assert lru.get("x") == "1"


def test_requirepass(secured_db, secured):
    # the client fixtures authenticate with the server's requirepass (also for the flush)
    assert secured_db.ping() and secured.password == "pw"


def test_server_factory(redislet_server_factory, redislet_client_factory):
    a = redislet_server_factory(databases=2)
    b = redislet_server_factory(process=True, appendonly=True)
    ra = redislet_client_factory(a, protocol=2)
    rb = redislet_client_factory(b)
    assert ra.config_get("databases") == {"databases": "2"}
    assert rb.config_get("appendonly") == {"appendonly": "yes"}
    assert rb.info("server")["process_id"] != ra.info("server")["process_id"]
    rb.set("p", "q")
    assert rb.get("p") == "q"
'''


def test_fixtures_and_options(pytester):
    pytester.makeini("""
        [pytest]
        redislet_config =
            maxmemory-policy allkeys-lru
            hz=20
    """)
    pytester.makepyfile(test_fixtures=FIXTURES_TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--redislet-config", "databases=5",
        "--redislet-protocol", "3", "--redislet-decode-responses", timeout=120)
    result.assert_outcomes(passed=8)


CLUSTER_TESTS = '''
import os
from redis.cluster import ClusterNode, RedisCluster


def test_cluster_shape(redislet_cluster):
    nodes = redislet_cluster.startup_nodes
    assert len(nodes) == 6 and all(h == "127.0.0.1" and p > 0 for h, p in nodes)
    assert len(redislet_cluster.masters) == 3 and len(redislet_cluster.replicas) == 3
    assert redislet_cluster.url == "redis://%s:%d" % nodes[0]
    with open(os.environ["PIDS_FILE"], "w") as f:
        f.write(" ".join(str(n.proc.pid) for n in redislet_cluster.nodes))


def test_redis_cluster_client(redislet_cluster):
    rc = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in redislet_cluster.startup_nodes])
    keys = ["key:%d" % i for i in range(100)]    # spread over every master
    for i, k in enumerate(keys):
        rc.set(k, i)
    assert [int(rc.get(k)) for k in keys] == list(range(100))
    assert rc.mset_nonatomic({"{t}a": 1, "{t}b": 2})
    assert rc.mget("{t}a", "{t}b") == [b"1", b"2"]
    assert rc.dbsize(target_nodes=RedisCluster.PRIMARIES) == 102     # summed over masters
    rc.close()


def test_cluster_client_is_flushed(redislet_cluster_client):
    rc = redislet_cluster_client
    assert rc.dbsize(target_nodes=RedisCluster.PRIMARIES) == 0
    rc.set("foo", "bar")
    assert rc.get("foo") == b"bar"


def test_moved_redirection(redislet_cluster):
    # the first master, asked for a key of the third master's slot
    from redislet.launcher import ReplyError
    first, third = redislet_cluster.masters[0], redislet_cluster.masters[2]
    try:
        first.call("GET", "foo")     # slot 12182
    except ReplyError as e:
        assert str(e) == "MOVED 12182 127.0.0.1:%d" % third.port
    else:
        raise AssertionError("no MOVED")
'''


def test_cluster_without_conftest(pytester, tmp_path, monkeypatch):
    pytest.importorskip("redis.cluster")
    pids_file = tmp_path / "pids"
    pytester.makepyfile(test_cluster=CLUSTER_TESTS)
    monkeypatch.setenv("PIDS_FILE", str(pids_file))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rf", timeout=240)
    result.assert_outcomes(passed=4)
    # every node process is gone once the session is over
    pids = [int(p) for p in pids_file.read_text().split()]
    assert len(pids) == 6
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        with open("/proc/%d/cmdline" % pid, "rb") as f:      # pid reused by someone else?
            assert b"redislet" not in f.read(), "node %d still running" % pid


def test_without_redis_py_and_unused(pytester):
    # a project without redis-py: the client fixtures skip with a clear reason, and the
    # server fixture (which needs no client library) still works
    pytester.makepyfile(test_noredis=textwrap.dedent('''
        import sys
        sys.modules["redis"] = None          # "not installed"

        def test_client(redislet_client):
            pass

        def test_cluster_client(redislet_cluster_client):
            pass

        def test_skipped_clients_started_nothing():
            assert "redislet.embed" not in sys.modules      # no server
            assert "redislet.launcher" not in sys.modules   # no cluster

        def test_server_only(redislet_server):
            import socket
            with socket.create_connection((redislet_server.host, redislet_server.port)) as s:
                s.sendall(b"PING\\r\\n")
                assert s.recv(16) == b"+PONG\\r\\n"
    '''))
    pytester.makepyfile(test_unused=textwrap.dedent('''
        import sys

        def test_nothing_imported():
            assert "redislet.launcher" not in sys.modules
    '''))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs",
                                           "test_noredis.py", timeout=120)
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*redislet_client needs redis-py*pip install redis*",
                                 "*redislet_cluster_client needs redis-py*"])
    # unused: nothing started; and `-p no:redislet` turns the plugin off
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_unused.py")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_subprocess("-p", "no:redislet", "-p", "no:cacheprovider",
                                           "test_noredis.py::test_server_only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'redislet_server' not found*"])


def test_bad_option_values(pytester):
    pytester.makepyfile(test_x="def test_x(redislet_server): pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           "--redislet-config", "no-such-directive=1")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*Bad directive or wrong number of arguments*"])
