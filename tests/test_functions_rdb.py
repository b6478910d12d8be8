"""redis-cli --functions-rdb (REPLCONF rdb-filter-only functions, then SYNC): the RDB the
master sends holds the function libraries and no data; --rdb holds both. Each RDB is
loaded into a fresh server of the same kind; the results are compared with real Redis."""
import os
import shutil
import subprocess

import pytest

from conftest import Raw, start_real_redis, start_redislet

REDIS_CLI = shutil.which("redis-cli")
LIB = b"#!lua name=lib1\nredis.register_function('func1', function() return 123 end)"

pytestmark = pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli is not installed")


def _dump_and_load(start, d, mode, diskless):
    os.makedirs(d)
    src = start(d)
    try:
        c = Raw(src.port)
        c.cmd("CONFIG", "SET", "repl-diskless-sync", diskless)
        c.cmd("CONFIG", "SET", "repl-diskless-sync-delay", "0")
        c.cmd("DEBUG", "POPULATE", "100", "key", "10")
        c.cmd("FUNCTION", "LOAD", LIB)
        c.close()
        out = subprocess.run([REDIS_CLI, "-p", str(src.port), mode,
                              os.path.join(d, "cli.rdb")],
                             capture_output=True, text=True, timeout=60)
        assert "Transfer finished with success" in out.stdout + out.stderr
    finally:
        src.stop()
    os.replace(os.path.join(d, "cli.rdb"), os.path.join(d, "dump.rdb"))
    dst = start(d, "--dbfilename", "dump.rdb")
    try:
        c = Raw(dst.port)
        res = [c.cmd("DBSIZE"), c.cmd("FUNCTION", "LIST"), c.cmd("FCALL", "func1", "0")]
        c.close()
        return res
    finally:
        dst.stop()


@pytest.mark.parametrize("diskless", ["no", "yes"])
@pytest.mark.parametrize("mode", ["--functions-rdb", "--rdb"])
def test_cli_rdb_like_redis(tmp_path, mode, diskless):
    ours = _dump_and_load(start_redislet, str(tmp_path / "ours"), mode, diskless)
    assert ours[0] == (b":0\r\n" if mode == "--functions-rdb" else b":100\r\n")
    assert ours[2] == b":123\r\n"
    theirs = _dump_and_load(start_real_redis, str(tmp_path / "real"), mode, diskless)
    assert ours == theirs
