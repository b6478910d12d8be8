"""INFO: sections, field names and order against real Redis 7.0.15, section selection
(default / all / everything / several), RESP3 verbatim, and live values."""
import os
import re
import time

import pytest

from conftest import Raw


def info_text(conn, *sections):
    reply = conn.cmd("INFO", *sections)
    body = reply.split(b"\r\n", 1)[1][:-2]
    if reply[:1] == b"=":
        assert body[:4] == b"txt:"
        body = body[4:]
    return body.decode()


def parse(text):
    """[(section title, [field names])] and {field: value}."""
    sections, values = [], {}
    for block in text.split("\r\n\r\n"):
        lines = [ln for ln in block.split("\r\n") if ln]
        if not lines:
            continue
        assert lines[0].startswith("# "), block
        names = []
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            names.append(k)
            values[k] = v
        sections.append((lines[0][2:], names))
    return sections, values


# fields that depend on the build, the allocator or on state that differs between servers
_VOLATILE_SECTIONS = {"Commandstats", "Errorstats", "Latencystats", "Keyspace"}


@pytest.mark.parametrize("args", [[], ["default"], ["all"], ["everything"], ["server"],
                                  ["clients"], ["memory"], ["persistence"], ["stats"],
                                  ["replication"], ["cpu"], ["modules"], ["cluster"],
                                  ["CPU", "server"], ["cpu", "all"], ["cpu", "default"],
                                  ["nosuch"], ["module_list"], ["keyspace"]])
def test_info_sections_and_fields_match_redis(server, real, args):
    a, b = Raw(server.port), Raw(real.port)
    try:
        sa, _ = parse(info_text(a, *args))
        sb, _ = parse(info_text(b, *args))
        assert [t for t, _ in sa] == [t for t, _ in sb]
        for (ta, na), (tb, nb) in zip(sa, sb):
            # redislet's own fields (the compiled build) close the Server section
            own = [n for n in na if n.startswith("redislet_")]
            if own:
                assert ta == "Server" and na[-len(own):] == own == ["redislet_compiled"]
                na = na[:-len(own)]
            if ta not in _VOLATILE_SECTIONS:
                assert na == nb, ta
    finally:
        a.close()
        b.close()


def test_info_empty_for_unknown_section(both):
    both("INFO", "nosuch")
    both("INFO", "sentinel")
    both.resp3()
    both("INFO", "nosuch")


def test_info_resp3_verbatim(raw):
    c = raw()
    c.cmd("HELLO", "3")
    r = c.cmd("INFO", "server")
    assert r.startswith(b"=") and b"txt:# Server\r\nredis_version:7.0.15\r\n" in r


def test_info_default_vs_all(raw):
    c = raw()
    c.cmd("PING")
    d = info_text(c)
    assert "rejected_calls" not in d and "# Commandstats" not in d
    assert "used_cpu_user" in d and "used_memory" in d and "redis_version" in d
    a = info_text(c, "all")
    assert "rejected_calls" in a and "# Latencystats" in a
    e = info_text(c, "everything")
    assert "rejected_calls" in e
    s = info_text(c, "commandSTATS")
    assert "used_memory" not in s and "rejected_calls" in s
    s = info_text(c, "cpu", "all")
    assert s.count("used_cpu_user_children") == 1


def test_info_server_values(raw, server):
    c = raw()
    _, v = parse(info_text(c, "server"))
    assert v["redis_version"] == "7.0.15"
    assert v["redis_mode"] == "standalone"
    assert v["tcp_port"] == str(server.port)
    assert v["process_id"] == str(server.proc.pid)
    assert re.match(r"^[0-9a-f]{40}$", v["run_id"])
    assert abs(int(v["server_time_usec"]) / 1e6 - time.time()) < 5
    assert v["os"].startswith(os.uname().sysname)
    assert v["arch_bits"] == "64" and v["hz"] == "10" and v["configured_hz"] == "10"
    assert int(v["uptime_in_seconds"]) >= 0 and v["uptime_in_days"] == "0"
    assert v["config_file"] == ""
    assert v["io_threads_active"] == "0"


def test_info_clients_stats_keyspace(raw):
    c = raw()
    c.cmd("FLUSHALL")
    c.cmd("SET", "k1", "v")
    c.cmd("SET", "k2", "v", "EX", "100")
    c.cmd("SELECT", "3")
    c.cmd("SET", "k3", "v")
    c.cmd("SELECT", "0")
    _, v = parse(info_text(c))
    assert v["db0"].startswith("keys=2,expires=1,avg_ttl=")
    assert v["db3"] == "keys=1,expires=0,avg_ttl=0"
    assert int(v["connected_clients"]) >= 1 and v["maxclients"] == "10000"
    assert v["blocked_clients"] == "0"
    assert int(v["total_commands_processed"]) > 0
    assert int(v["total_net_input_bytes"]) > 0 and int(v["total_net_output_bytes"]) > 0
    assert v["role"] == "master" and v["connected_slaves"] == "0"
    assert re.match(r"^[0-9a-f]{40}$", v["master_replid"])
    assert v["cluster_enabled"] == "0"
    # used_memory is maxmemory's measure (maxmemory.py), ~870K empty as in Redis
    assert int(v["used_memory"]) > 800000
    assert v["used_memory_human"].endswith(("K", "M"))
    assert int(v["total_system_memory"]) > 0
    assert re.match(r"^\d+\.\d{6}$", v["used_cpu_user"])
    assert v["rdb_changes_since_last_save"].isdigit()
    c.cmd("FLUSHALL")


def test_info_commandstats_and_errorstats(raw):
    c = raw()
    c.cmd("CONFIG", "RESETSTAT")
    c.cmd("SET", "a", "b")
    c.cmd("GET", "a", "b")             # rejected (arity)
    c.cmd("NOSUCH")                    # unknown: errorstat only
    c.cmd("CONFIG", "GET", "maxmemory")
    c.cmd("CLIENT", "KILL", "ID", "0")  # failed call
    c.cmd("DEL", "a")
    _, v = parse(info_text(c, "commandstats", "errorstats"))
    assert re.match(r"^calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,"
                    r"failed_calls=0$", v["cmdstat_set"])
    assert re.match(r"^calls=0,usec=0,usec_per_call=0\.00,rejected_calls=1,failed_calls=0$",
                    v["cmdstat_get"])
    assert re.match(r"^calls=1,.*,rejected_calls=0,failed_calls=1$", v["cmdstat_client|kill"])
    assert "cmdstat_config|get" in v and "cmdstat_nosuch" not in v
    assert v["errorstat_ERR"] == "count=3"


def test_info_errorstats_order(raw):
    c = raw()
    c.cmd("CONFIG", "RESETSTAT")
    c.cmd("SET", "w", "1")
    c.cmd("LPUSH", "w", "x")
    c.cmd("NOSUCH")
    sections, v = parse(info_text(c, "errorstats"))
    names = sections[0][1]
    assert names == sorted(names)
    assert v["errorstat_ERR"] == "count=1"


def test_info_latencystats(raw):
    c = raw()
    c.cmd("CONFIG", "RESETSTAT")
    c.cmd("PING")
    _, v = parse(info_text(c, "latencystats"))
    assert re.match(r"^p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}$",
                    v["latency_percentiles_usec_ping"])
    c.cmd("CONFIG", "SET", "latency-tracking-info-percentiles", "0 50.5 100")
    try:
        _, v = parse(info_text(c, "latencystats"))
        assert re.match(r"^p0=\d+\.\d{3},p50\.5=\d+\.\d{3},p100=\d+\.\d{3}$",
                        v["latency_percentiles_usec_ping"])
    finally:
        c.cmd("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9")


def test_info_blocked_and_timeout_table(raw):
    a = raw()
    b = raw()
    b.cmd("PING")
    b.send(b"BZPOPMIN nosuchz 5\r\n")
    deadline = time.time() + 2
    while time.time() < deadline:
        _, v = parse(info_text(a, "clients"))
        if v["blocked_clients"] == "1":
            break
        time.sleep(0.01)
    if v["blocked_clients"] != "1":
        pytest.skip("BZPOPMIN not available")
    assert v["clients_in_timeout_table"] == "1"
    b.close()


def test_hdr_arithmetic():
    from redislet.commands.info import (hdr_highest_equivalent, hist_percentile, hist_cdf)
    assert hdr_highest_equivalent(1) == 1
    assert hdr_highest_equivalent(2000) == 2007
    assert hdr_highest_equivalent(189000) == 189439
    assert hdr_highest_equivalent(1024) == 1031
    h = {6: 3, 39: 1}
    # values seen on real Redis: p50=6.015, p99=39.167
    assert hist_percentile(h, 4, 50.0) / 1000.0 == 6.015
    assert hist_percentile(h, 4, 99.0) / 1000.0 == 39.167
    assert hist_cdf({0: 2, 5: 1, 2000000: 1}) == [(1, 2), (8, 3), (1082130, 4)]
