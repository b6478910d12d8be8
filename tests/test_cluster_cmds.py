"""A standalone server's answers to the cluster commands, byte for byte against Redis."""
import pytest

CASES = [
    ("CLUSTER", "INFO"), ("CLUSTER", "HELP"), ("CLUSTER",), ("CLUSTER", "NOPE"),
    ("CLUSTER", "KEYSLOT"), ("CLUSTER", "KEYSLOT", "a"), ("CLUSTER", "NODES", "x"),
    ("CLUSTER", "RESET", "HARD"), ("CLUSTER", "COUNTKEYSINSLOT", "x"),
    ("READONLY",), ("READWRITE",), ("READWRITE", "x"), ("ASKING",),
    ("COMMAND", "INFO", "cluster|info", "readonly", "asking"),
    ("COMMAND", "GETKEYS", "CLUSTER", "INFO"),
    ("EVAL", "return redis.call('cluster','reset','hard')", "0"),
    ("EVAL", "return redis.pcall('cluster','info')", "0"),
]


@pytest.mark.parametrize("proto", [2, 3])
def test_cluster_commands_match_redis(both, proto):
    if proto == 3:
        both.resp3()
    for args in CASES:
        both(*args)
    both("MULTI")
    both("CLUSTER", "INFO")
    both("EXEC")


def test_protected_commands_refused_by_default(tmp_path):
    """DEBUG (a plain command, on the dispatcher's fast path) and MODULE LOAD (a
    subcommand) are refused with enable-*-command at its default, as in Redis."""
    from conftest import Raw, start_real_redis, start_redislet
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    servers = [start_redislet(tmp_path / "a", "--enable-debug-command", "no",
                              "--enable-module-command", "no"),
               start_real_redis(tmp_path / "b", "--enable-debug-command", "no",
                                "--enable-module-command", "no")]
    try:
        replies = []
        for s in servers:
            c = Raw(s.port)
            replies.append([c.cmd(*a) for a in (("DEBUG", "SLEEP", "0"), ("DEBUG", "HELP"),
                                                ("MODULE", "LOAD", "/nonexistent.so"),
                                                ("MODULE", "LIST"), ("PING",))])
            c.close()
        assert replies[0] == replies[1]
        assert replies[0][0].startswith(b"-ERR DEBUG command not allowed.")
    finally:
        for s in servers:
            s.stop()
