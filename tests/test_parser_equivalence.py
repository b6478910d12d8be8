"""The hiredis fast path of the request parser must give exactly the reference (Python)
parser's result — commands and protocol error — for any input split into any chunks.
Seeded and bounded: a few thousand random mixes of valid and hostile frames."""
import random

import pytest

from redislet.resp import parser as P

PIECES = [
    b"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n", b"*1\r\n$4\r\nPING\r\n", b"PING\r\n", b"*1\r\n+PING\r\n",
    b"*0\r\n", b"*-1\r\n", b"*2\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n", b"*1\r\n$-1\r\n",
    b"*1\r\n:5\r\n", b"*3\r\n$3\r\nSET\r\n$2\r\nab\r\n$10\r\n0123456789\r\n",
    b"*1\r\n$03\r\nabc\r\n", b"*1\r\n=8\r\ntxt:abcd\r\n", b"*1\r\n%1\r\n$1\r\na\r\n$1\r\nb\r\n",
    b"$3\r\nabc\r\n", b"*2\r\n$1\r\na\r\n+ab\r\n", b'set "a b" c\r\n', b"*1\r\n$2\r\nab\r\n" * 3,
    b"*1\r\n_\r\n", b"*1\r\n$4\r\nP\r\nN\r\n", b"*1\r\n~1\r\n$1\r\na\r\n",
    b"*1\r\n|1\r\n+a\r\n+b\r\n$1\r\nc\r\n", b"*1\r\n>1\r\n$1\r\na\r\n", b"*1\r\n(12\r\n",
    b"*1\r\n,1.5\r\n", b"*1\r\n#t\r\n", b"*1\r\n!3\r\nerr\r\n", b"*3000000000\r\n",
    b"*1\r\n~3000000000\r\n", b"*1\r\n%1234567\r\n", b"*2\r\n$1\r\na\r\n*1234567\r\n",
    b"*1\r\n$1\r\n\x00\r\n", b"*1\x00\r\n", b"ping\x00\r\n", b"*1\r\n$5\r\nhello\r\n",
    b"*2\r\n$3\r\nGET\r\n$4\r\na\r\nb\r\n", b"*1\r\n$3\r\nabXY", b"*1\r\n$2\r\n\r\n\r\n",
    b"*2\r\n$1\r\na\r\n$0\r\n\r\n", b"*1\r\n$1\r\n$\r\n", b"*1\r\n$3\r\n*1\r\r\n", b"\r\n",
    b"*1\r\n$2048\r\n" + b"x" * 2048 + b"\r\n", b"*2\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n",
]


def _run(chunks, fast):
    p = P.RequestParser()
    out = []
    for c in chunks:
        out += p.feed_fast(c) if fast else p.feed(c)
        if p.error:
            break
    return out, p.error


@pytest.mark.skipif(P._HiredisReader is None, reason="hiredis is not installed")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_path_equals_reference(seed):
    rnd = random.Random(seed)
    for _ in range(1500):
        data = b"".join(rnd.choice(PIECES) for _ in range(rnd.randint(1, 6)))
        k = min(len(data) - 1, rnd.randint(0, 3))
        cuts = sorted(rnd.sample(range(1, len(data)), k)) if k > 0 else []
        chunks = [data[i:j] for i, j in zip([0] + cuts, cuts + [len(data)])]
        assert _run(chunks, True) == _run(chunks, False), chunks
