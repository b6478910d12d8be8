"""Redis's glob-style matching (util.c stringmatchlen), used by KEYS, SCAN MATCH,
CONFIG GET, PSUBSCRIBE, COMMAND LIST and ACL patterns.

Well-formed patterns are translated once to an equivalent regular expression (cached);
the rest (an unterminated '[' , or nocase ranges) go through a direct port of the C code.
"""
import re
from functools import lru_cache

__all__ = ["match", "compile_glob"]


def _port(p, s, nocase):
    skip = [False]

    def impl(pi, si):
        plen = len(p)
        slen = len(s)
        while pi < plen and si < slen:
            c = p[pi]
            if c == 42:  # '*'
                while pi + 1 < plen and p[pi + 1] == 42:
                    pi += 1
                if pi + 1 == plen:
                    return True
                while si < slen:
                    if impl(pi + 1, si):
                        return True
                    if skip[0]:
                        return False
                    si += 1
                skip[0] = True
                return False
            elif c == 63:  # '?'
                si += 1
            elif c == 91:  # '['
                pi += 1
                neg = pi < plen and p[pi] == 94
                if neg:
                    pi += 1
                matched = False
                sc = s[si]
                while True:
                    if pi < plen and p[pi] == 92 and plen - pi >= 2:
                        pi += 1
                        if p[pi] == sc:
                            matched = True
                    elif pi < plen and p[pi] == 93:
                        break
                    elif pi >= plen:
                        pi -= 1
                        break
                    elif plen - pi >= 3 and p[pi + 1] == 45:
                        start, end, ch = p[pi], p[pi + 2], sc
                        if start > end:
                            start, end = end, start
                        if nocase:
                            start, end, ch = _lower(start), _lower(end), _lower(ch)
                        pi += 2
                        if start <= ch <= end:
                            matched = True
                    else:
                        if p[pi] == sc or (nocase and _lower(p[pi]) == _lower(sc)):
                            matched = True
                    pi += 1
                if neg:
                    matched = not matched
                if not matched:
                    return False
                si += 1
            else:
                if c == 92 and plen - pi >= 2:  # '\\'
                    pi += 1
                    c = p[pi]
                sc = s[si]
                if c != sc and not (nocase and _lower(c) == _lower(sc)):
                    return False
                si += 1
            pi += 1
            if si == slen:
                while pi < plen and p[pi] == 42:
                    pi += 1
                break
        return pi == plen and si == slen

    return impl(0, 0)


def _lower(c):
    return c + 32 if 65 <= c <= 90 else c


def _translate(p, nocase):
    """Return a regex source equivalent to pattern p, or None if it needs the port."""
    out = []
    i = 0
    n = len(p)
    while i < n:
        c = p[i]
        if c == 42:
            while i + 1 < n and p[i + 1] == 42:
                i += 1
            out.append(None)   # a star, placed below
        elif c == 63:
            out.append(b".")
        elif c == 91:
            j = i + 1
            neg = j < n and p[j] == 94
            if neg:
                j += 1
            items = []
            while True:
                if j >= n:
                    return None  # unterminated class: odd C semantics, use the port
                if p[j] == 92 and n - j >= 2:
                    if nocase:
                        return None  # escaped class members compare case-sensitively in C
                    j += 1
                    items.append(re.escape(bytes((p[j],))))
                elif p[j] == 93:
                    break
                elif n - j >= 3 and p[j + 1] == 45:
                    a, b = p[j], p[j + 2]
                    if nocase:
                        return None
                    if a > b:
                        a, b = b, a
                    items.append(re.escape(bytes((a,))) + b"-" + re.escape(bytes((b,))))
                    j += 2
                else:
                    items.append(re.escape(bytes((p[j],))))
                j += 1
            if not items:
                out.append(b"." if neg else b"(?!)")
            else:
                out.append(b"[" + (b"^" if neg else b"") + b"".join(items) + b"]")
            i = j
        elif c == 92 and n - i >= 2:
            i += 1
            out.append(re.escape(bytes((p[i],))))
        else:
            out.append(re.escape(bytes((c,))))
        i += 1
    # Every star but the last matches lazily inside an atomic group: placing each
    # fixed-width segment between stars at its leftmost match is optimal for globs, and it
    # keeps matching polynomial (as stringmatchlen's skipLongerMatches does) where plain
    # backtracking on "a*a*a*...*b" would be exponential.
    stars = out.count(None)
    res = []
    opened = False
    for x in out:
        if x is None:
            if opened:
                res.append(b")")
            stars -= 1
            opened = stars > 0
            res.append(b"(?>.*?" if opened else b".*")
        else:
            res.append(x)
    return b"".join(res)


@lru_cache(maxsize=1024)
def compile_glob(pattern, nocase=False):
    """Return a predicate on bytes for the glob pattern (bytes), true on a match: a C
    function where it can be one (filter() and comprehensions then call no Python code).

    As in Redis, an empty subject matches only an empty pattern (so "*" does not match "";
    KEYS and SCAN special-case a lone "*" themselves)."""
    if not pattern:
        return lambda s: not s
    if pattern == b"*":
        return bool
    if not any(ch in pattern for ch in b"*?[\\"):
        if nocase:
            low = pattern.lower()
            return lambda s: s.lower() == low
        return pattern.__eq__
    src = _translate(pattern, nocase)
    if src is None:
        return lambda s: _port(pattern, s, nocase)
    rx = re.compile(src, re.DOTALL | (re.IGNORECASE if nocase else 0))
    full = rx.fullmatch
    if full(b"") is None:
        return full             # a match object or None
    return lambda s: bool(s) and full(s) is not None


def match(pattern, string, nocase=False):
    if isinstance(pattern, str):
        pattern = pattern.encode()
    if isinstance(string, str):
        string = string.encode()
    return compile_glob(pattern, nocase)(string)
