"""The hiredis fast path of the request parser must give exactly the reference (Python)
parser's result — commands and protocol error — for any input split into any chunks.
Seeded and bounded: a few thousand random mixes of valid and hostile frames."""
import random

import pytest

from redislet.resp import parser as P

# Chunks where header counts could cancel out: bulks followed by two bytes other than CRLF
# (both parsers skip them unread) hiding a header of another type, '+'/'(' (shorter than a
# bulk) against '=' (longer), a nested array behind such bytes.
ADVERSARIAL = [
    b"*3\r\n$1\r\na$$+b\r\n+c\r\n",
    b"*7\r\n" + b"=5\r\ntxt:a\r\n" * 3 + b"+b\r\n" * 4,
    b"*7\r\n" + b"$1\r\naXY=5\r\ntxt:a\r\n" * 3 + b"+b\r\n" * 4,
    b"*2\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n*1\r\n$1\r\naXY*1\r\n$1\r\nb\r\n",
    b"*2\r\n$2\r\na\r\n$+b\r\n*1\r\n$4\r\nPING\r\n",
    b"*1\r\n$4\r\nPING\r\n~1\r\n$3\r\nGET\r\n", b"*1\r\n$1\r\naXY~1\r\n$3\r\nGET\r\n",
    b"*1\r\n$4\r\nPING\r\n|1\r\n+a\r\n+b\r\n*1\r\n$4\r\nPING\r\n",
    b"*2\r\n$3\r\nSET\r\n$1\r\nk\r\n(1\r\n*1\r\n$2\r\n\r\n\r\n",
]

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
    b"*4\r\n$6\r\nXRANGE\r\n$1\r\ns\r\n$1\r\n-\r\n$1\r\n+\r\n", b"*2\r\n$1\r\n*\r\n$2\r\n:1\r\n",
    b"*2\r\n$1\r\naXY+b\r\n", b"*2\r\n$2\r\na\r\nX+b\r\n", b"*1\r\n$1\r\nk\xdf\n",
    b"*1\r\n>1234567\r\n", b"*2\r\n$1\r\naXY~1234567\r\n",
    # a push and a map at the top: hiredis gives a list subclass and a dict
    b">1\r\n$4\r\nPING\r\n", b"%1\r\n$1\r\na\r\n$1\r\nb\r\n", b">2\r\n$1\r\na\r\n$1\r\nb\r\n",
] + ADVERSARIAL



def _run(chunks, fast):
    p = P.RequestParser()
    out = []
    for c in chunks:
        out += p.feed_fast(c) if fast else p.feed(c)
        if p.error:
            break
    return out, p.error


@pytest.mark.skipif(P._HiredisReader is None, reason="hiredis is not installed")
def test_adversarial_chunks():
    for data in ADVERSARIAL:
        for cut in range(len(data) + 1):
            chunks = [c for c in (data[:cut], data[cut:]) if c]
            assert _run(chunks, True) == _run(chunks, False), chunks
    # a push or a map after a command: the Python parser's reading (inline lines), not
    # hiredis's (a list subclass, a dict)
    for tail in (b">1\r\n$4\r\nPING\r\n", b"%1\r\n$1\r\na\r\n$1\r\nb\r\n"):
        chunks = [b"*1\r\n$4\r\nPING\r\n" + tail]
        assert _run(chunks, True) == _run(chunks, False), chunks
    # the XADD report's case: a partial item held by hiredis behind a non-CRLF ending
    chunks = [b"*2\r\n$7\r\nPERSIST\r\n$1\r\nk\xdf\n*", b"1\r\n$4\r\nEXEC\r\n"]
    assert _run(chunks, True) == _run(chunks, False) == ([[b"PERSIST", b"k"], [b"EXEC"]], None)


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
