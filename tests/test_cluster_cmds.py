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
