"""redis.call/pcall with thousands of arguments (up to what unpack() can give), and the
script line in errors of `return redis.call(...)` (no tail call drops the script's frame):
compared byte for byte with a real redis-server, for EVAL and FCALL."""
import pytest

from conftest import Raw

MANY = "local a = {} for i=1,7999 do a[i] = %s end "

SCRIPTS = [
    MANY % "1" + 'return redis.call("lpush", "l", unpack(a))',
    MANY % "i" + 'return redis.pcall("rpush", "l", unpack(a))',
    MANY % "1" + 'local n = redis.call("lpush", "l", unpack(a)) return n',
    MANY % "{}" + 'return redis.pcall("lpush", "l", unpack(a))',
    MANY % "1" + 'return redis.call("nosuch", unpack(a))',
    'local a = {} for i=1,1200 do a[i] = 1 end return redis.call("lpush", "l", nil, unpack(a))',
    'return redis.call("lpush", "l", {})',
    'return redis.pcall("lpush", "l", {})',
    'return redis.call("nosuch")',
    "\n\nreturn redis.call('incr', 'l')",
    "local function f() return redis.call('nosuch') end\nreturn f()",
    "local r = redis\nreturn r.call('lrange', 'l', 0, 1)",
]


def _run(port, script, fcall):
    c = Raw(port)
    try:
        c.cmd("DEL", "l")
        if fcall:
            c.cmd("FUNCTION", "FLUSH")
            body = script.replace("\n", " ")
            lib = ("#!lua name=many\nredis.register_function('f', function(keys, args) "
                   "%s end)" % body)
            c.cmd("FUNCTION", "LOAD", lib)
            out = [c.cmd("FCALL", "f", "0")]
        else:
            out = [c.cmd("EVAL", script, "0")]
        out.append(c.cmd("LLEN", "l"))
        out.append(c.cmd("LRANGE", "l", "0", "2"))
        return out
    finally:
        c.close()


@pytest.mark.parametrize("fcall", [False, True], ids=["eval", "fcall"])
@pytest.mark.parametrize("i", range(len(SCRIPTS)))
def test_like_redis(server, real, i, fcall):
    script = SCRIPTS[i]
    assert _run(server.port, script, fcall) == _run(real.port, script, fcall)


def test_many_arguments_pushed(server):
    assert _run(server.port, SCRIPTS[0], False) == [b":7999\r\n", b":7999\r\n",
                                                    b"*3\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n1\r\n"]
