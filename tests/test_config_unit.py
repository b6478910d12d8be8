"""Unit tests for redislet.config (no redislet server needed).

Some tests compare with the real redis-server 7.0.15 at /usr/bin/redis-server; they are
skipped when it is not installed."""
import os
import socket
import subprocess
import time

import pytest

from redislet import config as C
from redislet.config import Config, ConfigError, FatalConfigError

REAL = "/usr/bin/redis-server"
need_real = pytest.mark.skipif(not os.path.exists(REAL),
                               reason="real redis-server 7.0.15 not installed at " + REAL)


@pytest.fixture(autouse=True)
def keep_cwd():
    cwd = os.getcwd()
    yield
    os.chdir(cwd)


def cfg_get(cfg, pattern):
    return dict(cfg.config_get([pattern.encode()]))


def set_err(cfg, *pairs, **kw):
    with pytest.raises(ConfigError) as ei:
        cfg.config_set([(a.encode(), b.encode()) for a, b in pairs], **kw)
    return str(ei.value)


def cset(cfg, *pairs, **kw):
    cfg.config_set([(a.encode(), b.encode()) for a, b in pairs], **kw)


def fatal(cfg, conf_path=None, argv=()):
    with pytest.raises(FatalConfigError) as ei:
        cfg.load(conf_path, list(argv))
    return ei.value


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


# ------------------------------------------------------------------------------------------
# Defaults and the table
# ------------------------------------------------------------------------------------------
def test_defaults():
    c = Config()
    v = c.values
    assert v["port"] == 6379 and v["databases"] == 16 and v["hz"] == 10
    assert v["appendonly"] is False and v["protected-mode"] is True
    assert v["loglevel"] == "notice" and v["appendfsync"] == "everysec"
    assert v["maxmemory-policy"] == "noeviction" and v["maxmemory"] == 0
    assert v["save"] == [(3600, 1), (300, 100), (60, 10000)]
    assert v["bind"] == ["*", "-::*"]
    assert v["replicaof"] is None
    assert v["oom-score-adj-values"] == (0, 200, 800)
    assert v["latency-tracking-info-percentiles"] == [50.0, 99.0, 99.9]
    assert v["client-output-buffer-limit"] == {
        "normal": (0, 0, 0), "replica": (268435456, 67108864, 60),
        "pubsub": (33554432, 8388608, 60)}
    assert v["notify-keyspace-events"] == "" and c.notify_flags == 0
    assert v["requirepass"] == "" and v["dbfilename"] == "dump.rdb"
    assert v["proto-max-bulk-len"] == 512 * 1024 * 1024
    assert v["dir"] == os.getcwd()
    assert c.get("slaveof") is None and c.get("hash-max-ziplist-entries") == 512
    assert c.get("LUA-TIME-LIMIT") == 5000
    with pytest.raises(KeyError):
        c.get("nope")


def test_table_shape():
    names = [s.name for s in C.TABLE]
    assert len(names) == len(set(names))
    aliases = [s.alias for s in C.TABLE if s.alias]
    assert not set(aliases) & set(names)
    hidden = {s.name for s in C.TABLE if s.flags & C.HIDDEN}
    assert hidden == {"use-exit-on-panic", "rdb-key-save-delay", "key-load-delay",
                      "watchdog-period", "loading-process-events-interval-bytes"}
    assert C.SPECS["replicaof"].alias == "slaveof"
    assert C.SPECS["dir"].flags & C.PROTECTED and C.SPECS["dir"].flags & C.DENY_LOADING
    assert C.SPECS["requirepass"].flags & C.SENSITIVE
    # 178 entries + 29 aliases - 5 hidden = 192 names in CONFIG GET *
    assert len(Config().config_get([b"*"])) == 192


# ------------------------------------------------------------------------------------------
# CONFIG GET
# ------------------------------------------------------------------------------------------
def test_config_get_formatting():
    c = Config()
    g = dict(c.config_get([b"*"]))
    assert g["save"] == "3600 1 300 100 60 10000"
    assert g["client-output-buffer-limit"] == \
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    assert g["bind"] == "* -::*"
    assert g["dir"] == os.getcwd()
    assert g["replicaof"] == "" and g["slaveof"] == ""
    assert g["oom-score-adj-values"] == "0 200 800"
    assert g["latency-tracking-info-percentiles"] == "50 99 99.9"
    assert g["unixsocketperm"] == "0"
    assert g["appendonly"] == "no" and g["rdbchecksum"] == "yes"
    assert g["maxmemory-clients"] == "0"
    assert g["client-query-buffer-limit"] == "1073741824"
    assert g["proc-title-template"] == "{title} {listen-addr} {server-mode}"
    assert g["shutdown-on-sigint"] == "default"
    assert g["tls-auth-clients"] == "yes"
    assert g["notify-keyspace-events"] == ""
    for h in ("use-exit-on-panic", "rdb-key-save-delay", "watchdog-period"):
        assert h not in g


def test_config_get_patterns_aliases_hidden():
    c = Config()
    assert set(cfg_get(c, "*max-*-entries*")) == {
        "hash-max-listpack-entries", "hash-max-ziplist-entries", "zset-max-listpack-entries",
        "zset-max-ziplist-entries", "set-max-intset-entries"}
    # hidden configs need an exact name
    assert cfg_get(c, "watchdog-period") == {"watchdog-period": "0"}
    assert cfg_get(c, "watchdog*") == {}
    # exact names are replied as typed, case-insensitively, without duplicates
    assert c.config_get([b"PORT", b"port", b"Port"]) == [("PORT", "6379")]
    assert c.config_get([b"PO*", b"port"]) == [("port", "6379")]
    assert c.config_get([b"port", b"PO*"]) == [("port", "6379")]
    assert c.config_get([b"nosuch"]) == []
    assert c.config_get([b"slaveof"]) == [("slaveof", "")]
    assert dict(c.config_get([b"maxmemory", b"timeout"])) == {"maxmemory": "0", "timeout": "0"}
    assert cfg_get(c, "tls-p*") == {"tls-port": "0", "tls-prefer-server-ciphers": "no",
                                    "tls-protocols": ""}


# ------------------------------------------------------------------------------------------
# CONFIG SET
# ------------------------------------------------------------------------------------------
FAILED = "ERR CONFIG SET failed (possibly related to argument '%s') - %s"


def test_config_set_basic_types():
    c = Config()
    cset(c, ("maxmemory", "1GB"), ("timeout", "30"), ("appendfsync", "ALWAYS"),
         ("activerehashing", "No"), ("maxmemory-clients", "10%"), ("slave-announce-ip", "1.2.3.4"))
    assert c.values["maxmemory"] == 1 << 30
    assert c.values["timeout"] == 30 and c.values["appendfsync"] == "always"
    assert c.values["activerehashing"] is False
    assert c.values["maxmemory-clients"] == -10
    assert cfg_get(c, "maxmemory-clients") == {"maxmemory-clients": "10%"}
    assert c.values["replica-announce-ip"] == "1.2.3.4"
    cset(c, ("maxmemory", "1k"), ("hash-max-ziplist-value", "2kb"), ("maxmemory-clients", "1mb"))
    assert c.values["maxmemory"] == 1000 and c.values["hash-max-listpack-value"] == 2048
    assert cfg_get(c, "maxmemory-clients") == {"maxmemory-clients": "1048576"}
    cset(c, ("maxmemory", "18446744073709551615"))
    assert cfg_get(c, "maxmemory") == {"maxmemory": "18446744073709551615"}
    cset(c, ("maxmemory", ""))
    assert c.values["maxmemory"] == 0
    cset(c, ("oom-score-adj", "relative"))
    assert c.values["oom-score-adj"] == "yes"
    cset(c, ("shutdown-on-sigint", "now SAVE"))
    assert c.values["shutdown-on-sigint"] == "save now"
    cset(c, ("hz", "1000"))
    assert c.values["hz"] == 500
    cset(c, ("hz", "0"))
    assert c.values["hz"] == 1


def test_config_set_special():
    c = Config()
    cset(c, ("save", "10 20 30 40"))
    assert c.values["save"] == [(10, 20), (30, 40)]
    cset(c, ("save", ""))
    assert c.values["save"] == [] and cfg_get(c, "save") == {"save": ""}
    cset(c, ("client-output-buffer-limit", "replica 1mb 2 3 PUBSUB 0 0 0"))
    assert cfg_get(c, "client-output-buffer-limit")["client-output-buffer-limit"] == \
        "normal 0 0 0 slave 1048576 2 3 pubsub 0 0 0"
    cset(c, ("notify-keyspace-events", "KEAn"))
    assert c.values["notify-keyspace-events"] == "AKE"
    assert c.notify_flags == C.NOTIFY_ALL | C.NOTIFY_KEYSPACE | C.NOTIFY_KEYEVENT | C.NOTIFY_NEW
    cset(c, ("notify-keyspace-events", "Ex$"))
    assert c.values["notify-keyspace-events"] == "$xE"
    cset(c, ("bind", "127.0.0.1 ::1"))
    assert c.values["bind"] == ["127.0.0.1", "::1"]
    cset(c, ("bind", ""))
    assert c.values["bind"] == []
    cset(c, ("oom-score-adj-values", "1 2 3"))
    assert c.values["oom-score-adj-values"] == (1, 2, 3)
    cset(c, ("latency-tracking-info-percentiles", "1e2 0.0001 0.5"))
    assert cfg_get(c, "latency-tracking-info-percentiles") == \
        {"latency-tracking-info-percentiles": "100 0.0001 0.5"}
    cset(c, ("latency-tracking-info-percentiles", ""))
    assert c.values["latency-tracking-info-percentiles"] == []


def test_config_set_dir(tmp_path):
    c = Config()
    assert set_err(c, ("dir", str(tmp_path))) == FAILED % ("dir", "can't set protected config")
    c.values["enable-protected-configs"] = "local"
    assert set_err(c, ("dir", str(tmp_path))) == FAILED % ("dir", "can't set protected config")
    cset(c, ("dir", str(tmp_path)), is_local=True)
    assert os.getcwd() == str(tmp_path) == c.values["dir"] == cfg_get(c, "dir")["dir"]
    assert set_err(c, ("dir", "/nonexistent/x"), is_local=True) == \
        FAILED % ("dir", "No such file or directory")
    assert set_err(c, ("dir", "/tmp"), loading=True, is_local=True) == \
        "LOADING Redis is loading the dataset in memory"


@pytest.mark.parametrize("name,value,msg", [
    ("port", "abc", "argument couldn't be parsed into an integer"),
    ("port", " 1", "argument couldn't be parsed into an integer"),
    ("port", "01", "argument couldn't be parsed into an integer"),
    ("port", "65536", "argument must be between 0 and 65535 inclusive"),
    ("maxmemory", "1x", "argument must be a memory value"),
    ("maxmemory", "-1", "argument must be a memory value"),
    ("maxmemory-clients", "101%", "percentage argument must be less or equal to 100"),
    ("maxmemory-clients", "-5", "argument must be a memory or percent value"),
    ("maxclients", "0", "argument must be between 1 and 4294967295 inclusive"),
    ("maxclients", "-1", "argument must be between 1 and 4294967295 inclusive"),
    ("hash-max-listpack-entries", "-1",
     "argument must be between 0 and 9223372036854775807 inclusive"),
    ("hash-max-listpack-entries", "18446744073709551615",
     "argument couldn't be parsed into an integer"),
    ("slowlog-max-len", "-1", "argument must be between 0 and 9223372036854775807 inclusive"),
    ("list-max-listpack-size", "99999999999",
     "argument must be between -2147483648 and 2147483647 inclusive"),
    ("proto-max-bulk-len", "1000", "argument must be between 1048576 and 9223372036854775807 "
                                   "inclusive"),
    ("appendonly", "maybe", "argument must be 'yes' or 'no'"),
    ("loglevel", "xx", "argument(s) must be one of the following: debug, verbose, notice, warning"),
    ("maxmemory-policy", "lru", "argument(s) must be one of the following: volatile-lru, "
     "volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, "
     "noeviction"),
    ("shutdown-on-sigint", "save nosave",
     "shutdown options SAVE and NOSAVE can't be used simultaneously"),
    ("shutdown-on-sigint", "", "argument(s) must be one of the following: default, save, "
                               "nosave, now, force"),
    ("activedefrag", "yes", "Active defragmentation cannot be enabled: it requires a Redis "
     "server compiled with a modified Jemalloc like the one shipped by default with the Redis "
     "source distribution"),
    ("proc-title-template", "{server-mode}",
     "template format is invalid or contains unknown variables"),
    ("proc-title-template", "{foo}", "template format is invalid or contains unknown variables"),
    ("cluster-announce-hostname", "a_b",
     "Hostnames may only contain alphanumeric characters, hyphens or dots"),
    ("save", "1 2 3", "Invalid save parameters"),
    ("save", " 10  20 ", "Invalid save parameters"),
    ("save", "10 abc", "Invalid save parameters"),
    ("client-output-buffer-limit", "master 1 2 3",
     "Invalid client class specified in buffer limit configuration."),
    ("client-output-buffer-limit", "normal 1 2",
     "Wrong number of arguments in buffer limit configuration."),
    ("client-output-buffer-limit", "normal 1 2 -1",
     "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ("notify-keyspace-events", "Kq", "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
    ("oom-score-adj-values", "1 2", "wrong number of arguments"),
    ("oom-score-adj-values", "1 2 3000",
     "Invalid oom-score-adj-values, elements must be between -2000 and 2000."),
    ("latency-tracking-info-percentiles", "abc",
     "Invalid latency-tracking-info-percentiles parameters"),
    ("latency-tracking-info-percentiles", "101",
     "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"),
    ("bind", " ".join(["1.1.1.1"] * 17), "Too many bind addresses specified."),
    ("daemonize", "yes", "can't set immutable config"),
    ("slaveof", "no one", "can't set immutable config"),
    ("dbfilename", "a/b", "can't set protected config"),
    ("unixsocketperm", "777", "can't set immutable config"),
])
def test_config_set_errors(name, value, msg):
    c = Config()
    before = dict(c.config_get([b"*"]))
    assert set_err(c, (name, value)) == FAILED % (name, msg)
    assert dict(c.config_get([b"*"])) == before


def test_config_set_validators_with_protection_lifted():
    c = Config()
    c.values["enable-protected-configs"] = "yes"
    assert set_err(c, ("dbfilename", "a/b")) == \
        FAILED % ("dbfilename", "dbfilename can't be a path, just a filename")
    cset(c, ("dbfilename", "x.rdb"))
    assert c.values["dbfilename"] == "x.rdb"


def test_config_set_unknown_duplicate_order():
    c = Config()
    assert set_err(c, ("foo", "bar")) == \
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    assert set_err(c, ("timeout", "1"), ("timeout", "2")) == \
        FAILED % ("timeout", "duplicate parameter")
    assert set_err(c, ("timeout", "1"), ("TIMEOUT", "2")) == \
        FAILED % ("TIMEOUT", "duplicate parameter")
    # an unknown name takes precedence unless an earlier error was found
    assert set_err(c, ("timeout", "1"), ("foo", "2"), ("daemonize", "no")) == \
        "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
    assert set_err(c, ("timeout", "1"), ("daemonize", "no"), ("foo", "2")) == \
        FAILED % ("daemonize", "can't set immutable config")
    # alias and canonical name are different entries in Redis: not a duplicate
    cset(c, ("hash-max-ziplist-entries", "1"), ("hash-max-listpack-entries", "2"))
    assert c.values["hash-max-listpack-entries"] == 2
    # errors name the config as looked up (alias when an alias was used)
    assert set_err(c, ("hash-max-ziplist-entries", "x")) == \
        FAILED % ("hash-max-ziplist-entries", "argument couldn't be parsed into an integer")
    assert set_err(c, ("Port", "x")) == \
        FAILED % ("port", "argument couldn't be parsed into an integer")
    assert c.values["timeout"] == 0


def test_config_set_atomic():
    c = Config()
    assert set_err(c, ("timeout", "5"), ("save", "1 2"), ("maxmemory", "bad")) == \
        FAILED % ("maxmemory", "argument must be a memory value")
    assert c.values["timeout"] == 0
    assert c.values["save"] == [(3600, 1), (300, 100), (60, 10000)]


def test_config_set_builtin_apply():
    c = Config()
    cset(c, ("repl-backlog-size", "1k"))
    assert c.values["repl-backlog-size"] == 16384
    cset(c, ("watchdog-period", "8"))
    assert c.values["watchdog-period"] == 200
    tls_err = "Unable to update TLS configuration. Check server logs."
    assert set_err(c, ("tls-port", "6380")) == FAILED % ("tls-port", tls_err)
    assert set_err(c, ("tls-replication", "yes")) == FAILED % ("tls-replication", tls_err)
    assert c.values["tls-port"] == 0 and c.values["tls-replication"] is False
    cset(c, ("tls-cert-file", "/x.crt"), ("tls-key-file", "/x.key"))   # TLS not enabled
    cset(c, ("tls-auth-clients", "no"), ("tls-port", "6380"))
    assert c.values["tls-port"] == 6380
    assert set_err(c, ("tls-protocols", "TLSv1.2 SSLv3")) == FAILED % ("tls-protocols", tls_err)
    cset(c, ("tls-protocols", "tlsv1.2 TLSv1.3"))


def test_config_set_hooks():
    c = Config()
    calls = []
    c.on_change("port", lambda v: calls.append(("port", v)))
    c.on_change("slave-priority", lambda v: calls.append(("prio", v)))
    shared = lambda v: calls.append(("shared", v))
    c.on_change("min-replicas-to-write", shared)
    c.on_change("min-replicas-max-lag", shared)
    cset(c, ("port", "7000"), ("replica-priority", "5"))
    assert calls == [("port", 7000), ("prio", 5)]
    calls.clear()
    cset(c, ("port", "7000"))        # unchanged value: no hook
    assert calls == []
    cset(c, ("min-replicas-to-write", "1"), ("min-replicas-max-lag", "3"))
    assert calls == [("shared", 1)]  # one apply per distinct callback

    def refuse(v):
        if v == 1234:
            raise ConfigError("Unable to listen on this port. Check server logs.")
        calls.append(("ok", v))
    d = Config()
    d.on_change("port", refuse)
    calls.clear()
    assert set_err(d, ("timeout", "9"), ("port", "1234")) == \
        FAILED % ("port", "Unable to listen on this port. Check server logs.")
    assert d.values["port"] == 6379 and d.values["timeout"] == 0
    assert calls == [("ok", 6379)]   # re-applied after the rollback


# ------------------------------------------------------------------------------------------
# Loading: argv, files, errors
# ------------------------------------------------------------------------------------------
def test_build_options():
    b = C.build_options
    assert b(["--port", "7000", "--save", "", "--replicaof", "127.0.0.1 6379"], False) == \
        (b'port "7000" \nsave "" \nreplicaof "127.0.0.1 6379" ', False)
    assert b(["--save", "--port", "1"], False) == (b'save ""\nport "1" ', False)
    assert b(["--port", "1", "--save"], False) == (b'port "1" \nsave ""', False)
    assert b(["--port", "--5"], False) == (b'port "--5" ', False)
    assert b(["--port 7000", "--x"], False) == (b"port 7000 \nx ", False)
    assert b(["--save", "900", "1", "300", "10"], False) == \
        (b'save "900" "1" "300" "10" ', False)
    assert b(["-"], False) == (b"", True)
    assert b(["-"], True) == (b"", True)
    assert b(["a\nb"], False) == (b'"a\\nb" ', False)


def test_load_file_and_argv(tmp_path):
    path = write(tmp_path / "r.conf", """
# comment
   port 7001
SAVE 900 1
save 300 10
slaveof 10.0.0.1 6380
hash-max-ziplist-entries 64
maxmemory 2mb
list-max-ziplist-entries 5
lua-replicate-commands yes
rename-command FLUSHALL ""
rename-command config myconfig
user alice on nopass ~* +@all
requirepass "pa ss\\x41"
notify-keyspace-events Ex
bind 127.0.0.1 ::1
hz 1000
client-output-buffer-limit "pubsub 1mb 512kb 30"
""")
    c = Config()
    c.load(path, ["--port", "7002", "--loglevel", "warning", "--save", "60", "100",
                  "--oom-score-adj-values", "1 2 3"])
    v = c.values
    assert c.config_file == path
    assert v["port"] == 7002 and v["loglevel"] == "warning"
    assert v["save"] == [(900, 1), (300, 10), (60, 100)]
    assert v["replicaof"] == ("10.0.0.1", 6380)
    assert v["hash-max-listpack-entries"] == 64 and v["maxmemory"] == 2 << 20
    assert c.renamed_commands == [("FLUSHALL", ""), ("config", "myconfig")]
    assert c.user_directives == ["user alice on nopass ~* +@all"]
    assert c.user_directive_args == [["alice", "on", "nopass", "~*", "+@all"]]
    assert v["requirepass"] == "pa ssA"
    assert v["notify-keyspace-events"] == "xE"
    assert c.notify_flags == C.NOTIFY_EXPIRED | C.NOTIFY_KEYEVENT
    assert v["bind"] == ["127.0.0.1", "::1"]
    assert v["hz"] == 500
    assert v["client-output-buffer-limit"]["pubsub"] == (1 << 20, 512 << 10, 30)
    assert v["oom-score-adj-values"] == (1, 2, 3)


def test_load_argv_only_and_relative_path(tmp_path):
    c = Config()
    c.load(None, ["--save", "", "--replicaof", "127.0.0.1 6379", "--port", "7000"])
    assert c.values["save"] == [] and c.values["replicaof"] == ("127.0.0.1", 6379)
    assert c.config_file is None
    os.chdir(tmp_path)
    write(tmp_path / "x.conf", "port 7005\n")
    d = Config()
    d.load("x.conf", [])
    assert d.config_file == str(tmp_path / "x.conf") and d.values["port"] == 7005
    os.mkdir(tmp_path / "sub")
    os.chdir(tmp_path / "sub")
    assert C.get_absolute_path("../x.conf") == str(tmp_path / "x.conf")


def test_load_stdin_text(tmp_path):
    path = write(tmp_path / "s.conf", "port 7020\n")
    c = Config()
    c.load(path, ["--timeout", "3"], extra_text="timeout 2\nhz 20\n")
    assert (c.values["port"], c.values["timeout"], c.values["hz"]) == (7020, 3, 20)
    with pytest.raises(FatalConfigError) as ei:
        Config().load(None, [], extra_text="port 1\nport x\n")
    assert str(ei.value) == _fatal_block(2, "port x", "argument couldn't be parsed into an integer")


def test_save_in_file_after_include(tmp_path):
    inc = write(tmp_path / "inc.conf", "port 7010\n")
    path = write(tmp_path / "a.conf", "save 1 2\nsave 3 4\ninclude %s\nsave 5 6\nsave 7 8\n"
                 % inc)
    c = Config()
    c.load(path, [])
    # after an include Redis no longer knows it is reading a file: each save line resets
    assert c.values["save"] == [(7, 8)] and c.values["port"] == 7010


def test_include_glob(tmp_path):
    d = tmp_path / "conf.d"
    d.mkdir()
    write(d / "b.conf", "port 7011\n")
    write(d / "a.conf", "port 7012\ntimeout 5\n")
    path = write(tmp_path / "main.conf", "include %s/*.conf\ninclude %s/none*.conf\n" % (d, d))
    c = Config()
    c.load(path, [])
    assert c.values["port"] == 7011 and c.values["timeout"] == 5


def test_set_directive():
    c = Config()
    c.set_directive("slaveof", ["127.0.0.1 6380"])
    assert c.values["replicaof"] == ("127.0.0.1", 6380)
    c.set_directive("save", ["100", "1"])
    c.set_directive("save", ["200", "2"])
    assert c.values["save"] == [(100, 1), (200, 2)]
    with pytest.raises(ConfigError) as ei:
        c.set_directive("port", ["1", "2"])
    assert str(ei.value) == "wrong number of arguments"
    with pytest.raises(ConfigError) as ei:
        c.set_directive("nope", ["1"])
    assert str(ei.value) == "Bad directive or wrong number of arguments"


def _fatal_block(linenum, line, msg):
    return ("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, "
            "at line %d\n>>> '%s'\n%s\n" % (linenum, line, msg))


@pytest.mark.parametrize("text,linenum,line,msg", [
    ('port 7000\nport "abc"\n', 2, 'port "abc"', "argument couldn't be parsed into an integer"),
    ('port "7000\n', 1, 'port "7000', "Unbalanced quotes in configuration line"),
    ("port 1 2\n", 1, "port 1 2", "wrong number of arguments"),
    ("foo bar\n", 1, "foo bar", "Bad directive or wrong number of arguments"),
    ("list-max-ziplist-entries 1 2\n", 1, "list-max-ziplist-entries 1 2",
     "Bad directive or wrong number of arguments"),
    ("include\n", 1, "include", "Bad directive or wrong number of arguments"),
    ("sentinel monitor x\n", 1, "sentinel monitor x",
     "sentinel directive while not in sentinel mode"),
    ("foo.bar\n", 1, "foo.bar", "Module config specified without value"),
    ("loglevel loud\n", 1, "loglevel loud",
     "argument(s) must be one of the following: debug, verbose, notice, warning"),
    ('save "1 2 3"\n', 1, 'save "1 2 3"', "Invalid save parameters"),
    ("client-output-buffer-limit \"\"\n", 1, 'client-output-buffer-limit ""',
     "Wrong number of arguments in buffer limit configuration."),
    ("replicaof 1.2.3.4 99999\n", 1, "replicaof 1.2.3.4 99999", "Invalid master port"),
    ("replicaof 1.2.3.4\n", 1, "replicaof 1.2.3.4", "wrong number of arguments"),
    ("activedefrag yes\n", 1, "activedefrag yes", "Active defragmentation cannot be enabled: "
     "it requires a Redis server compiled with a modified Jemalloc like the one shipped by "
     "default with the Redis source distribution"),
    ("\t  dbfilename a/b  \r\n", 1, "dbfilename a/b",
     "dbfilename can't be a path, just a filename"),
])
def test_file_errors(tmp_path, text, linenum, line, msg):
    path = write(tmp_path / "e.conf", text)
    e = fatal(Config(), path)
    assert not e.log
    assert str(e) == _fatal_block(linenum, line, msg)


def test_argv_errors_and_special_failures(tmp_path):
    assert str(fatal(Config(), None, ["--port", "abc"])) == \
        _fatal_block(2, 'port "abc"', "argument couldn't be parsed into an integer")
    assert str(fatal(Config(), None, ["--port"])) == \
        _fatal_block(2, "port", "wrong number of arguments")
    assert str(fatal(Config(), None, ["--hz", "5", "--loglevel"])) == \
        _fatal_block(3, "loglevel", "wrong number of arguments")
    assert str(fatal(Config(), None, ["--logfile", "/nonexistent/dir/x.log"])) == \
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n" \
        "Can't open the log file: No such file or directory\n"
    assert str(fatal(Config(), None, ["--cluster-enabled", "yes", "--replicaof", "a 1"])) == \
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n" \
        "replicaof directive not allowed in cluster mode\n"
    e = fatal(Config(), str(tmp_path / "missing.conf"))
    assert e.log and str(e) == "Fatal error, can't open config file '%s': " \
        "No such file or directory" % (tmp_path / "missing.conf")
    path = write(tmp_path / "i.conf", "include %s/nothere.conf\n" % tmp_path)
    e = fatal(Config(), path)
    assert e.log and "nothere.conf': No such file or directory" in str(e)
    inc = write(tmp_path / "bad.conf", "\n\nbogus 1\n")
    path = write(tmp_path / "j.conf", "port 1\ninclude %s\n" % inc)
    assert str(fatal(Config(), path)) == \
        _fatal_block(3, "bogus 1", "Bad directive or wrong number of arguments")
    e = fatal(Config(), None, ["--loadmodule", "/x.so"])
    assert e.log
    e = fatal(Config(), None, ["--mymod.opt", "1"])
    assert e.log and str(e) == ("Module Configuration detected without loadmodule directive "
                                "or no ApplyConfig call: aborting")


def test_rename_command_validation():
    c = Config()
    c.command_names = {"get", "set", "flushall"}
    c.load(None, ["--rename-command", "flushall", "", "--rename-command", "GET", "fetch"])
    assert c.renamed_commands == [("flushall", ""), ("GET", "fetch")]
    c = Config()
    c.command_names = {"get", "set"}
    assert str(fatal(c, None, ["--rename-command", "nope", "x"])).endswith(
        "No such command in rename-command\n")
    c = Config()
    c.command_names = {"get", "set"}
    assert str(fatal(c, None, ["--rename-command", "get", "SET"])).endswith(
        "Target command name already exists\n")


def test_user_validator():
    c = Config()

    def v(args):
        if args[0] == "bad":
            raise ConfigError("Error in user declaration 'x': Syntax error")
    c.user_validator = v
    assert str(fatal(c, None, ["--user", "bad", "x"])).endswith(
        "Error in user declaration 'x': Syntax error\n")


def test_memtoull_and_strtoll():
    m = C.memtoull
    assert m(b"1") == 1 and m(b"1k") == 1000 and m(b"1KB") == 1024 and m(b"2Mb") == 2 << 20
    assert m(b"1g") == 10 ** 9 and m(b"1gB") == 1 << 30 and m(b"5b") == 5
    assert m(b"") == 0 and m(b"kb") == 0
    assert m(b"-1") is None and m(b"+1") is None and m(b" 1") is None and m(b"1 k") is None
    assert m(b"1t") is None and m(b"1" * 128) is None
    assert C._strtoll(b" +12x") == (12, b"x", False)
    assert C._strtoll(b"") == (0, b"", False)


# ------------------------------------------------------------------------------------------
# CONFIG REWRITE
# ------------------------------------------------------------------------------------------
def test_rewrite_no_file():
    with pytest.raises(ConfigError) as ei:
        Config().rewrite(None)
    assert str(ei.value) == "The server is running without a config file"


def test_rewrite_round_trip(tmp_path):
    path = write(tmp_path / "r.conf", """# my config
port 7392
save 900 1
save 300 10

maxmemory 100mb
slaveof 127.0.0.1 6380
rename-command FLUSHALL ""
notify-keyspace-events "KEA"
hz 20
hz 30
loglevel verbose
masterauth foo
""")
    c = Config()
    c.load(path, [])
    # a directive this server does not know (e.g. of an unloaded module) appears later
    text = open(path).read().replace("rename-command", "bogus-directive 1\nrename-command")
    write(path, text)
    os.chdir(tmp_path)
    cset(c, ("maxmemory", "1gb"), ("hz", "10"), ("loglevel", "notice"), ("save", ""),
         ("maxmemory-clients", "5%"), ("notify-keyspace-events", ""),
         ("client-output-buffer-limit", "pubsub 1mb 0 0"), ("masterauth", ""),
         ("timeout", "30"), ("bind", "127.0.0.1 ::1"),
         ("latency-tracking-info-percentiles", ""), ("shutdown-on-sigint", "save now"),
         ("replica-announce-ip", 'a b"c'))
    c.rewrite(path)
    text = open(path).read()
    head, tail = text.split("# Generated by CONFIG REWRITE\n")
    assert head == ("# my config\nport 7392\nsave \"\"\n\nmaxmemory 1gb\nreplicaof 127.0.0.1 6380\n"
                    "# ??? bogus-directive 1\nrename-command FLUSHALL \"\"\n"
                    "notify-keyspace-events \"\"\nhz 10\n\nloglevel notice\n\n")
    assert sorted(tail.splitlines()) == sorted([
        "client-output-buffer-limit pubsub 1mb 0 0", "timeout 30",
        'latency-tracking-info-percentiles ""', "bind 127.0.0.1 ::1", "maxmemory-clients 5%",
        'replica-announce-ip "a b\\"c"', 'dir "%s"' % tmp_path, "shutdown-on-sigint save now"])
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o644 & ~_umask())
    # the rewritten file loads back to the same configuration
    d = Config()
    d.load(path, [])
    skip = {"dir"}
    assert [kv for kv in d.config_get([b"*"]) if kv[0] not in skip] == \
        [kv for kv in c.config_get([b"*"]) if kv[0] not in skip]
    # rewriting again keeps the configuration (Redis reuses existing lines of a directive
    # in order, so client-output-buffer-limit lines shift until all three classes appear)
    for _ in range(3):
        d.rewrite(path)
        e = Config()
        e.load(path, [])
        assert e.config_get([b"*"]) == d.config_get([b"*"])
    assert open(path).read().count("client-output-buffer-limit") == 3
    assert [f for f in os.listdir(tmp_path) if f.startswith("r.conf.")] == []


def _umask():
    u = os.umask(0)
    os.umask(u)
    return u


def test_rewrite_defaults_removed_and_users(tmp_path):
    path = write(tmp_path / "u.conf", "timeout 5\nuser bob on\naclfile \"\"\nunixsocket /x\n")
    c = Config()
    c.load(path, [])
    cset(c, ("timeout", "0"))
    c.values["unixsocket"] = ""
    c.rewrite(path)
    lines = open(path).read().splitlines()
    assert "timeout 5" not in lines and "user bob on" in lines and 'aclfile ""' in lines
    assert "unixsocket /x" not in lines
    c.acl_rewrite_lines = lambda: ["user default on nopass ~* &* +@all"]
    c.rewrite(path)
    lines = open(path).read().splitlines()
    assert "user bob on" not in lines and "user default on nopass ~* &* +@all" in lines


def test_rewrite_missing_file_and_memory_format(tmp_path):
    path = str(tmp_path / "new.conf")
    c = Config()
    cset(c, ("maxmemory", "3mb"), ("repl-backlog-size", "16385"), ("hash-max-ziplist-value", "2k"))
    c.rewrite(path)
    lines = open(path).read().splitlines()
    assert lines[0] == "# Generated by CONFIG REWRITE"
    assert "maxmemory 3mb" in lines and "repl-backlog-size 16385" in lines
    assert "hash-max-listpack-value 2000" in lines


def test_debug_info():
    info = Config().debug_info().decode()
    assert "lazyfree-lazy-eviction no" in info and "io-threads 1" in info
    assert "# Generated" not in info


# ------------------------------------------------------------------------------------------
# Comparison with the real redis-server
# ------------------------------------------------------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealServer:
    """A real redis-server on a free port, spoken to over a minimal RESP2 client."""

    def __init__(self, args, cwd):
        self.port = _free_port()
        self.proc = subprocess.Popen([REAL] + list(args) + ["--port", str(self.port)],
                                     cwd=cwd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port))
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("real redis-server did not start")
        self.buf = self.sock.makefile("rb")

    def _reply(self):
        line = self.buf.readline()[:-2]
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":"):
            return [rest.decode()]
        if kind == b"$":
            n = int(rest)
            return [] if n < 0 else [self.buf.read(n + 2)[:-2].decode()]
        return [x for _ in range(int(rest)) for x in self._reply()]

    def cli(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._reply()

    def config_get(self):
        out = self.cli("config", "get", "*")
        return dict(zip(out[0::2], out[1::2]))

    def stop(self):
        self.sock.close()
        self.proc.terminate()
        self.proc.wait(5)


@need_real
def test_compare_config_get_all_with_real(tmp_path):
    real = RealServer([], str(tmp_path))
    try:
        theirs = real.config_get()
    finally:
        real.stop()
    c = Config()
    c.load(None, ["--port", str(real.port)])
    mine = dict(c.config_get([b"*"]))
    assert set(mine) == set(theirs)
    diff = {k: (theirs[k], mine[k]) for k in theirs if k != "dir" and theirs[k] != mine[k]}
    assert diff == {}


@need_real
def test_compare_config_set_with_real(tmp_path):
    sets = [("maxmemory", "1GB"), ("maxmemory-clients", "7%"), ("notify-keyspace-events", "KEAn"),
            ("oom-score-adj", "relative"), ("shutdown-on-sigterm", "force now"),
            ("client-output-buffer-limit", "replica 1mb 2 3"), ("save", "10 20"),
            ("latency-tracking-info-percentiles", "1e2 0.0001 0.5"), ("hz", "1000"),
            ("list-max-ziplist-size", "-3"), ("maxmemory", "18446744073709551616")]
    bad = [("port", "abc"), ("maxmemory", "1x"), ("foo", "bar"), ("save", "1 2 3"),
           ("loglevel", "x"), ("unixsocketperm", "1"), ("maxmemory-clients", "101%"),
           ("hash-max-listpack-entries", "-1"), ("appendonly", "x"), ("dir", "/tmp")]
    real = RealServer([], str(tmp_path))
    try:
        c = Config()
        for name, value in sets:
            assert real.cli("config", "set", name, value) == ["OK"]
            cset(c, (name, value))
        for name, value in bad:
            theirs = real.cli("config", "set", name, value)[0]
            assert theirs == set_err(c, (name, value))
        theirs = real.config_get()
    finally:
        real.stop()
    mine = dict(c.config_get([b"*"]))
    diff = {k: (theirs[k], mine[k]) for k in theirs
            if k not in ("dir", "port") and theirs[k] != mine[k]}
    assert diff == {}


@need_real
@pytest.mark.parametrize("text,argv", [
    ('port 7000\nport "abc"\n', []),
    ("save 1 2 3\n", []),
    ("bogus\n", []),
    ("maxmemory-clients 200%\n", []),
    ("unixsocketperm 1777\n", []),
    ("notify-keyspace-events q\n", []),
    ('hz "1\n', []),
    ("", ["--port", "x"]),
    ("", ["--save", "--loglevel", "x"]),
    ("", ["--replicaof", "1.2.3.4"]),
    ("", ["--logfile", "/nonexistent/a.log"]),
    ("", ["--bind", " ".join(["1.1.1.1"] * 17)]),
    ("", ["--maxmemory-policy", "nope"]),
    ("", ["--shutdown-on-sigint", "save", "nosave"]),
])
def test_compare_fatal_errors_with_real(tmp_path, text, argv):
    path = write(tmp_path / "f.conf", text)
    res = subprocess.run([REAL, path] + argv, capture_output=True, timeout=10, cwd=str(tmp_path))
    assert res.returncode == 1
    e = fatal(Config(), path, argv)
    assert str(e) == res.stderr.decode()


@need_real
def test_compare_config_set_sweep_with_real(tmp_path):
    """Every directive with a few values: the same reply and the same value afterwards."""
    skip = {"dir", "bind", "port", "tls-port", "maxclients", "requirepass", "oom-score-adj",
            "appendonly"}
    values = ["abc", "-1", "1", "1k", "yes", "1 2 3", ""]
    real = RealServer(["--save", ""], str(tmp_path))
    c = Config()
    cset(c, ("save", ""))
    mismatches = []
    try:
        for spec in C.TABLE:
            if spec.name in skip:
                continue
            for v in values:
                theirs = real.cli("config", "set", spec.alias or spec.name, v)[0]
                try:
                    cset(c, (spec.alias or spec.name, v))
                    mine = "OK"
                except ConfigError as e:
                    mine = str(e)
                got = real.cli("config", "get", spec.name)
                if theirs != mine or got[1:2] != [c.format_value(spec.name)]:
                    mismatches.append((spec.name, v, theirs, mine))
    finally:
        real.stop()
    assert mismatches == []


@need_real
def test_compare_argv_loading_sweep_with_real(tmp_path):
    """--name value for every directive: the same fatal error (a trailing bogus option makes
    the real server stop right after parsing)."""
    mismatches = []
    for spec in C.TABLE:
        if spec.name in ("dir", "logfile", "daemonize"):
            continue
        for v in ("x", "-1", "1 2"):
            argv = ["--" + spec.name, v, "--zzz-bogus", "1"]
            res = subprocess.run([REAL] + argv, capture_output=True, timeout=10, cwd=str(tmp_path))
            if str(fatal(Config(), None, argv)) != res.stderr.decode():
                mismatches.append(argv)
    assert mismatches == []


@need_real
def test_compare_stdin_with_real(tmp_path):
    text = "port 7000\nsave 1 2\nsave 3\n"
    res = subprocess.run([REAL, "-", "--hz", "5"], input=text.encode(), capture_output=True,
                         timeout=10, cwd=str(tmp_path))
    with pytest.raises(FatalConfigError) as ei:
        Config().load(None, ["-", "--hz", "5"], extra_text=text)
    assert str(ei.value) == res.stderr.decode()


@need_real
def test_compare_missing_file_with_real(tmp_path):
    res = subprocess.run([REAL, "nothere.conf"], capture_output=True, timeout=10,
                         cwd=str(tmp_path))
    assert res.returncode == 1
    os.chdir(tmp_path)
    e = fatal(Config(), "nothere.conf")
    assert e.log and res.stdout.decode().rstrip("\n").endswith("# " + str(e))


@need_real
def test_compare_rewrite_with_real(tmp_path):
    text = ("# my config\nsave 900 1\nsave 300 10\n\nmaxmemory 100mb\nslaveof 127.0.0.1 6380\n"
            "notify-keyspace-events \"KEA\"\nhz 20\nhz 30\nloglevel verbose\n"
            "masterauth foo\nrename-command FLUSHALL \"\"\n")
    sets = [("maxmemory", "1gb"), ("hz", "10"), ("loglevel", "notice"), ("save", ""),
            ("maxmemory-clients", "5%"), ("notify-keyspace-events", ""),
            ("client-output-buffer-limit", "pubsub 1mb 0 0"), ("masterauth", ""),
            ("timeout", "30"), ("latency-tracking-info-percentiles", ""),
            ("shutdown-on-sigint", "save now"), ("replica-announce-ip", 'a b"c\t'),
            ("oom-score-adj-values", "0 200 801"), ("maxmemory-policy", "allkeys-lru"),
            ("cluster-announce-hostname", "")]
    real_dir = tmp_path / "real"
    mine_dir = tmp_path / "mine"
    real_dir.mkdir()
    mine_dir.mkdir()
    # the port line is written by CONFIG REWRITE since it differs from the default
    real_path = write(real_dir / "r.conf", text)
    real = RealServer([real_path], str(real_dir))
    try:
        for name, value in sets:
            assert real.cli("config", "set", name, value) == ["OK"]
        write(real_path, open(real_path).read() + "bogus 1\n")
        assert real.cli("config", "rewrite") == ["OK"]
    finally:
        real.stop()
    theirs = open(real_path).read()

    mine_path = write(mine_dir / "r.conf", text)
    os.chdir(mine_dir)
    c = Config()
    c.load(mine_path, ["--port", str(real.port)])
    c.acl_rewrite_lines = lambda: ["user default on nopass ~* &* +@all"]
    for name, value in sets:
        cset(c, (name, value))
    write(mine_path, open(mine_path).read() + "bogus 1\n")
    c.rewrite(mine_path)
    mine = open(mine_path).read()

    def split(t):
        t = t.replace(str(real_dir), "DIR").replace(str(mine_dir), "DIR")
        head, tail = t.split("# Generated by CONFIG REWRITE\n")
        return head, sorted(tail.splitlines())
    assert split(mine) == split(theirs)
