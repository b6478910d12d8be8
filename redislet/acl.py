"""ACL users, rules, selectors and permission checks (Redis 7.0.15 acl.c).

A user has flags (on/off, nopass, sanitize-payload), SHA-256 password hashes (hex) and a
list of selectors; the first is the root selector. A selector holds a command bitmap (a
Python int indexed by command ids; the top bit means "future commands", set only by
+@all), first-argument exceptions, key patterns with read/write permissions and channel
patterns. A command passes when one selector allows the command, its keys and channels.

The server object is `Acl` (srv.acl). The dispatcher only reaches Acl.check for clients
whose user is restricted (Acl.restricted holds those user names), so the default
all-permissive user keeps the fast path.
"""
import hashlib
import hmac
import os
import time
from collections import deque

from .commands.table import COMMANDS, ACL_CATEGORIES, all_commands
from .glob import compile_glob
from .util import split_args

# selector flags
F_ROOT = 1
F_ALLKEYS = 2
F_ALLCHANNELS = 4
F_ALLCOMMANDS = 8
# user flags (ACLUserFlags order is the order ACL LIST / GETUSER show them)
U_ON = 1
U_OFF = 2
U_NOPASS = 4
U_SKIP_SANITIZE = 8
U_SANITIZE = 16
USER_FLAGS = ((b"on", U_ON), (b"off", U_OFF), (b"nopass", U_NOPASS),
              (b"skip-sanitize-payload", U_SKIP_SANITIZE), (b"sanitize-payload", U_SANITIZE))
# key pattern permissions
PERM_R = 1
PERM_W = 2
PERM_ALL = 3

BITS = 1024                          # USER_COMMAND_BITS_COUNT
FUTURE_BIT = 1 << (BITS - 1)         # set only by +@all / allcommands
ALL_BITS = (1 << BITS) - 1

# denial reasons (ACL_DENIED_*), in Redis's numeric order (the "most relevant" is largest)
OK_ = 0
DENIED_CMD = 1
DENIED_KEY = 2
DENIED_AUTH = 3
DENIED_CHANNEL = 4

# ACLSetUser errno values -> ACLSetUserStringError texts
ENOENT, EINVAL, EEXIST, EISDIR, ENODEV, EBADMSG, EALREADY, ECHILD = range(8)
ERRMSG = {
    ENOENT: "Unknown command or category name in ACL",
    EINVAL: "Syntax error",
    EEXIST: "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and "
            "does not have any effect. Try 'resetkeys' to start with an empty list of "
            "patterns",
    EISDIR: "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid "
            "and does not have any effect. Try 'resetchannels' to start with an empty list "
            "of channels",
    ENODEV: "The password you are trying to remove from the user does not exist",
    EBADMSG: "The password hash must be exactly 64 characters and contain only lowercase "
             "hexadecimal characters",
    EALREADY: "Duplicate user found. A user can only be defined once in config files",
    ECHILD: "Allowing first-arg of a subcommand is not supported",
}

NOPERM_CMD = "NOPERM this user has no permissions to run the '%s' command"
NOPERM_KEY = "NOPERM this user has no permissions to access one of the keys used as arguments"
NOPERM_CHANNEL = ("NOPERM this user has no permissions to access one of the channels used "
                  "as arguments")

_SPACES = frozenset(b" \t\n\v\f\r\x00")
_HEX = frozenset(b"0123456789abcdef")


class AclOpError(Exception):
    """An ACL rule that cannot be applied; args[0] is the errno-like code."""

    @property
    def message(self):
        return ERRMSG.get(self.args[0], "Wrong format")


def hash_password(pw):
    return hashlib.sha256(pw).hexdigest().encode()


def _has_spaces(b):
    return any(ch in _SPACES for ch in b)


def _dec(b):
    return b.decode("utf-8", "surrogateescape")


def _cstr(b):
    """The C-string view of bytes (up to the first NUL), as %s and strcasecmp see it."""
    i = b.find(b"\x00")
    return b if i < 0 else b[:i]


def _cs(b):
    return _dec(_cstr(b))


def _enc(s):
    return s.encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------
# The command table as ACL sees it: ids, category masks
# ---------------------------------------------------------------------------------------
class _Table:
    def __init__(self):
        self.count = -1
        self.ids = {}          # Command -> id
        self.sub_mask = {}     # id -> bits of the command and its subcommands
        self.cat_cmds = {}     # category -> [commands having it] (all levels)
        self.cat_mask = {}     # category -> bits set by +@category

    def refresh(self):
        cmds = list(all_commands())
        if len(cmds) == self.count:
            return self
        ids = {}
        for cmd in cmds:
            if cmd not in ids:
                ids[cmd] = len(ids)
        self.ids = ids
        sub_mask = {}
        for cmd, i in ids.items():
            m = 1 << i
            if cmd.subcommands:
                for s in cmd.subcommands.values():
                    m |= 1 << ids[s]
            sub_mask[i] = m
        self.sub_mask = sub_mask
        self.cat_cmds = {c: [] for c in ACL_CATEGORIES}
        self.cat_mask = dict.fromkeys(ACL_CATEGORIES, 0)
        for cmd, i in ids.items():
            for cat in cmd.acl:
                if cat in self.cat_cmds:
                    self.cat_cmds[cat].append(cmd)
                    self.cat_mask[cat] |= sub_mask[i]
        self.count = len(cmds)
        return self


TABLE = _Table()


def table():
    return TABLE.refresh()


def lookup_command(name):
    """ACLLookupCommand: 'cmd' or 'container|sub' (case-insensitive), or None."""
    parts = name.lower().split(b"|")
    if not name or len(parts) > 2:
        return None
    base = COMMANDS.get(parts[0])
    if len(parts) == 1:
        return base
    if base is None or not base.subcommands:
        return None
    return base.subcommands.get(parts[1])


def category_of(name):
    low = name.lower()
    try:
        s = low.decode()
    except UnicodeDecodeError:
        return None
    return s if s in ACL_CATEGORIES else None


# ---------------------------------------------------------------------------------------
# Selectors and users
# ---------------------------------------------------------------------------------------
class Selector:
    __slots__ = ("flags", "allowed", "firstargs", "patterns", "channels")

    def __init__(self, flags=0):
        self.flags = flags
        self.allowed = 0
        self.firstargs = None       # command id -> [first-arg bytes]
        self.patterns = []          # [pattern bytes, PERM_* flags]
        self.channels = []          # channel patterns (bytes)

    def copy(self):
        s = Selector(self.flags)
        s.allowed = self.allowed
        if self.firstargs:
            s.firstargs = {k: list(v) for k, v in self.firstargs.items()}
        s.patterns = [list(p) for p in self.patterns]
        s.channels = list(self.channels)
        return s

    # -- rules ------------------------------------------------------------------------
    def change_perm(self, t, cmd, allow):
        """ACLChangeSelectorPerm: the command and its subcommands."""
        cid = t.ids[cmd]
        if allow:
            self.allowed |= t.sub_mask[cid]
        else:
            self.allowed &= ~t.sub_mask[cid]
            self.flags &= ~F_ALLCOMMANDS
        if self.firstargs:
            self.firstargs.pop(cid, None)

    def set_category(self, t, cat, allow):
        cmds = t.cat_cmds[cat]
        if allow:
            self.allowed |= t.cat_mask[cat]
        elif cmds:
            self.allowed &= ~t.cat_mask[cat]
            self.flags &= ~F_ALLCOMMANDS
        if self.firstargs:
            for cmd in cmds:
                self.firstargs.pop(t.ids[cmd], None)

    def apply(self, op, pubsub_default=0):
        """ACLSetSelector: one rule (bytes). Raises AclOpError."""
        low = _cstr(op).lower()
        if low == b"allkeys" or op == b"~*":
            self.flags |= F_ALLKEYS
            self.patterns = []
        elif low == b"resetkeys":
            self.flags &= ~F_ALLKEYS
            self.patterns = []
        elif low == b"allchannels" or op == b"&*":
            self.flags |= F_ALLCHANNELS
            self.channels = []
        elif low == b"resetchannels":
            self.flags &= ~F_ALLCHANNELS
            self.channels = []
        elif low == b"allcommands" or low == b"+@all":
            self.allowed = ALL_BITS
            self.flags |= F_ALLCOMMANDS
            self.firstargs = None
        elif low == b"nocommands" or low == b"-@all":
            self.allowed = 0
            self.flags &= ~F_ALLCOMMANDS
            self.firstargs = None
        elif op[:1] in (b"~", b"%"):
            if self.flags & F_ALLKEYS:
                raise AclOpError(EEXIST)
            offset = 1
            if op[:1] == b"%":
                flags = 0
                n = len(op)
                while offset < n:
                    ch = op[offset]
                    if ch in b"Rr" and not flags & PERM_R:
                        flags |= PERM_R
                    elif ch in b"Ww" and not flags & PERM_W:
                        flags |= PERM_W
                    elif ch == 126:     # '~'
                        offset += 1
                        break
                    else:
                        raise AclOpError(EINVAL)
                    offset += 1
                if not flags:
                    raise AclOpError(EINVAL)
            else:
                flags = PERM_ALL
            pat = op[offset:]
            if _has_spaces(pat):
                raise AclOpError(EINVAL)
            for p in self.patterns:
                if p[0] == pat:
                    p[1] |= flags
                    break
            else:
                self.patterns.append([pat, flags])
            self.flags &= ~F_ALLKEYS
        elif op[:1] == b"&":
            if self.flags & F_ALLCHANNELS:
                raise AclOpError(EISDIR)
            pat = op[1:]
            if _has_spaces(pat):
                raise AclOpError(EINVAL)
            if pat not in self.channels:
                self.channels.append(pat)
            self.flags &= ~F_ALLCHANNELS
        elif op[:1] == b"+" and op[1:2] != b"@":
            t = table()
            name = _cstr(op[1:])
            if b"|" not in name:
                cmd = lookup_command(name)
                if cmd is None:
                    raise AclOpError(ENOENT)
                self.change_perm(t, cmd, True)
            else:
                base, _, sub = name.rpartition(b"|")
                cmd = lookup_command(base)
                if cmd is None:
                    raise AclOpError(ENOENT)
                if cmd.parent is not None:
                    raise AclOpError(ECHILD)
                if not sub:
                    raise AclOpError(EINVAL)
                if cmd.subcommands:
                    cmd = lookup_command(name)
                    if cmd is None:
                        raise AclOpError(ENOENT)
                    self.change_perm(t, cmd, True)
                else:
                    cid = t.ids[cmd]
                    if self.firstargs is None:
                        self.firstargs = {}
                    args = self.firstargs.setdefault(cid, [])
                    if not any(a.lower() == sub.lower() for a in args):
                        args.append(sub)
        elif op[:1] == b"-" and op[1:2] != b"@":
            cmd = lookup_command(_cstr(op[1:]))
            if cmd is None:
                raise AclOpError(ENOENT)
            self.change_perm(table(), cmd, False)
        elif op[:1] in (b"+", b"-") and op[1:2] == b"@":
            cat = category_of(_cstr(op[2:]))
            if cat is None:
                raise AclOpError(ENOENT)
            self.set_category(table(), cat, op[:1] == b"+")
        else:
            raise AclOpError(EINVAL)

    # -- checks -----------------------------------------------------------------------
    def check_key(self, key, perm):
        if self.flags & F_ALLKEYS:
            return True
        for pat, flags in self.patterns:
            if flags & perm == perm and compile_glob(pat)(key):
                return True
        return False

    def check_channel(self, channel, is_pattern):
        for pat in self.channels:
            if (pat == channel) if is_pattern else compile_glob(pat)(channel):
                return True
        return False

    def check_cmd(self, t, cmd, argv, cache):
        """ACLSelectorCheckCmd -> (reason, argv index)."""
        flags = self.flags
        if not flags & F_ALLCOMMANDS and not cmd.no_auth:
            cid = t.ids.get(cmd)
            if cid is None or not (self.allowed >> cid) & 1:
                fa = self.firstargs.get(cid) if self.firstargs and cid is not None else None
                if not fa or len(argv) < 2:
                    return DENIED_CMD, 0
                arg = argv[2 if cmd.parent is not None else 1].lower()
                if not any(a.lower() == arg for a in fa):
                    return DENIED_CMD, 0
        if not flags & F_ALLKEYS:
            keys = cache.get("keys")
            if keys is None:
                keys = cache["keys"] = acl_keys(cmd, argv)
            for pos, perm in keys:
                if not self.check_key(argv[pos], perm):
                    return DENIED_KEY, pos
        if not flags & F_ALLCHANNELS:
            spec = CHANNEL_CMDS.get(cmd.fullname)
            if spec is not None:
                is_pattern, count = spec
                stop = len(argv) if count < 0 else min(len(argv), 1 + count)
                for pos in range(1, stop):
                    if not self.check_channel(argv[pos], is_pattern):
                        return DENIED_CHANNEL, pos
        return OK_, 0

    def unrestricted(self):
        return self.flags & (F_ALLCOMMANDS | F_ALLKEYS | F_ALLCHANNELS) == (
            F_ALLCOMMANDS | F_ALLKEYS | F_ALLCHANNELS)

    # -- description ------------------------------------------------------------------
    def describe_commands(self):
        """ACLDescribeSelectorCommandRules: +@all/-@all, best-fit categories, then the
        single commands needed to reproduce the bitmap exactly."""
        t = table()
        fake = Selector()
        if self.allowed & FUTURE_BIT:
            additive = False
            rules = [b"+@all"]
            fake.allowed = ALL_BITS
        else:
            additive = True
            rules = [b"-@all"]
        temp = Selector()
        temp.allowed = self.allowed
        applied = set()
        while True:
            best = None
            mindiff = 1 << 62
            maxsame = 0
            for cat in ACL_CATEGORIES:
                if cat in applied:
                    continue
                on = off = 0
                allowed = temp.allowed
                for cmd in t.cat_cmds[cat]:
                    if (allowed >> t.ids[cmd]) & 1:
                        on += 1
                    else:
                        off += 1
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < mindiff or (diff == mindiff and same > maxsame)):
                    best, mindiff, maxsame = cat, diff, same
            if best is None:
                break
            fake.set_category(t, best, additive)
            temp.set_category(t, best, not additive)
            rules.append((b"+@" if additive else b"-@") + best.encode())
            applied.add(best)
        self._describe_single(t, fake, rules, COMMANDS.values())
        return b" ".join(rules)

    def _describe_single(self, t, fake, rules, cmds):
        for cmd in cmds:
            cid = t.ids[cmd]
            userbit = (self.allowed >> cid) & 1
            if userbit != (fake.allowed >> cid) & 1:
                rules.append((b"+" if userbit else b"-") + cmd.fullname.encode())
                fake.change_perm(t, cmd, userbit)
            if cmd.subcommands:
                self._describe_single(t, fake, rules, cmd.subcommands.values())
            if not userbit and self.firstargs and cid in self.firstargs:
                for a in self.firstargs[cid]:
                    rules.append(b"+" + cmd.fullname.encode() + b"|" + a)

    def describe_keys(self):
        return b" ".join(_pattern_string(p) for p in self.patterns)

    def describe_channels(self):
        return b" ".join(b"&" + c for c in self.channels)

    def describe(self):
        """ACLDescribeSelector."""
        out = []
        if self.flags & F_ALLKEYS:
            out.append(b"~*")
        else:
            out.extend(_pattern_string(p) for p in self.patterns)
        if self.flags & F_ALLCHANNELS:
            out.append(b"&*")
        else:
            out.append(b"resetchannels")
            out.extend(b"&" + c for c in self.channels)
        out.append(self.describe_commands())
        return b" ".join(out)


def _pattern_string(p):
    pat, flags = p
    if flags == PERM_ALL:
        return b"~" + pat
    return (b"%R~" if flags == PERM_R else b"%W~") + pat


class User:
    __slots__ = ("name", "flags", "passwords", "selectors")

    def __init__(self, name, pubsub_default=0):
        self.name = name                       # str (surrogateescape-decoded bytes)
        self.flags = U_OFF
        self.passwords = []                    # hex SHA-256 digests (bytes)
        self.selectors = [Selector(F_ROOT | pubsub_default)]

    @property
    def root(self):
        return self.selectors[0]

    def copy(self, name=None):
        u = User(self.name if name is None else name)
        u.copy_from(self)
        return u

    def copy_from(self, src):
        self.flags = src.flags
        self.passwords = list(src.passwords)
        self.selectors = [s.copy() for s in src.selectors]

    def apply(self, op, pubsub_default=0):
        """ACLSetUser: one rule (bytes). Raises AclOpError."""
        if not op:
            return
        low = _cstr(op).lower()
        if low == b"on":
            self.flags = (self.flags | U_ON) & ~U_OFF
        elif low == b"off":
            self.flags = (self.flags | U_OFF) & ~U_ON
        elif low == b"skip-sanitize-payload":
            self.flags = (self.flags | U_SKIP_SANITIZE) & ~U_SANITIZE
        elif low == b"sanitize-payload":
            self.flags = (self.flags | U_SANITIZE) & ~U_SKIP_SANITIZE
        elif low == b"nopass":
            self.flags |= U_NOPASS
            self.passwords = []
        elif low == b"resetpass":
            self.flags &= ~U_NOPASS
            self.passwords = []
        elif op[:1] in (b">", b"#"):
            if op[:1] == b">":
                h = hash_password(op[1:])
            else:
                h = op[1:]
                if len(h) != 64 or not all(ch in _HEX for ch in h):
                    raise AclOpError(EBADMSG)
            if h not in self.passwords:
                self.passwords.append(h)
            self.flags &= ~U_NOPASS
        elif op[:1] in (b"<", b"!"):
            if op[:1] == b"<":
                h = hash_password(op[1:])
            else:
                h = op[1:]
                if len(h) != 64 or not all(ch in _HEX for ch in h):
                    raise AclOpError(EBADMSG)
            if h not in self.passwords:
                raise AclOpError(ENODEV)
            self.passwords.remove(h)
        elif op[:1] == b"(" and op[-1:] == b")":
            sel = Selector(pubsub_default)
            for a in split_args(op[1:-1]) or []:
                sel.apply(a, pubsub_default)
            self.selectors.append(sel)
        elif low == b"clearselectors":
            del self.selectors[1:]
        elif low == b"reset":
            self.apply(b"resetpass")
            self.apply(b"resetkeys")
            self.apply(b"resetchannels")
            if pubsub_default & F_ALLCHANNELS:
                self.apply(b"allchannels")
            self.apply(b"off")
            self.apply(b"sanitize-payload")
            self.apply(b"clearselectors")
            self.apply(b"-@all")
        else:
            self.root.apply(op, pubsub_default)

    def describe(self):
        """ACLDescribeUser: the rules in ACL LIST / ACL SAVE / CONFIG REWRITE form."""
        out = [name for name, f in USER_FLAGS if self.flags & f]
        out.extend(b"#" + p for p in self.passwords)
        text = b" ".join(out)
        for s in self.selectors:
            d = s.describe()
            if s.flags & F_ROOT:
                text = (text + b" " + d) if text else d
            else:
                text += b" (" + d + b")"
        return text

    def unrestricted(self):
        return any(s.unrestricted() for s in self.selectors)

    def check(self, cmd, argv):
        """ACLCheckAllUserCommandPerm -> (reason, argv index)."""
        t = TABLE if TABLE.count >= 0 else table()
        relevant, last = DENIED_CMD, 0
        cache = {}
        for s in self.selectors:
            r, pos = s.check_cmd(t, cmd, argv, cache)
            if r == OK_:
                return OK_, 0
            if r > relevant or (r == relevant and pos > last):
                relevant, last = r, pos
        return relevant, last

    def can_access_all_keys(self, cmd, argv, perm=PERM_R):
        """ACLUserCheckCmdWithUnrestrictedKeyAccess (SORT BY/GET patterns)."""
        t = table()
        cache = {}
        for s in self.selectors:
            r, _ = s.check_cmd(t, cmd, argv, cache)
            if r == OK_:
                if s.flags & F_ALLKEYS:
                    return True
                for pat, flags in s.patterns:
                    if flags & perm == perm and pat == b"*":
                        return True
        return False


def merge_selector_args(args):
    """ACLMergeSelectorArguments -> (merged list, None) or (None, index of the unmatched
    opening argument)."""
    out = []
    sel = None
    start = -1
    for j, op in enumerate(args):
        if op[:1] == b"(" and op[-1:] != b")":
            sel = op
            start = j
            continue
        if start != -1:
            sel += b" " + op
            if op[-1:] == b")":
                start = -1
                out.append(sel)
            continue
        out.append(op)
    if start != -1:
        return None, start
    return out, None


# ---------------------------------------------------------------------------------------
# Keys and channels of a command, as ACL sees them
# ---------------------------------------------------------------------------------------
CHANNEL_CMDS = {"subscribe": (False, -1), "ssubscribe": (False, -1),
                "psubscribe": (True, -1), "publish": (False, 1), "spublish": (False, 1)}


def _perm_of(flags):
    p = 0
    if "ACCESS" in flags:
        p |= PERM_R
    if "INSERT" in flags or "DELETE" in flags or "UPDATE" in flags:
        p |= PERM_W
    return p


_R = PERM_R
_RW = PERM_R | PERM_W


def _set_keys(argv):
    for a in argv[3:]:
        if a.lower() == b"get":
            return [(1, _RW)]
    return [(1, PERM_W)]


def _bitfield_keys(argv):
    readonly = True
    i = 2
    n = len(argv)
    while i < n:
        rem = n - i - 1
        a = argv[i].lower()
        if a == b"get" and rem >= 2:
            i += 2
        elif a in (b"set", b"incrby") and rem >= 3:
            readonly = False
            break
        elif a == b"overflow" and rem >= 1:
            i += 1
        else:
            readonly = False
            break
        i += 1
    return [(1, _R if readonly else _RW)]


def _sort_keys(argv):
    keys = [(1, _R)]
    store = None
    i = 2
    n = len(argv)
    while i < n:
        a = argv[i].lower()
        if a == b"limit":
            i += 2
        elif a in (b"get", b"by"):
            i += 1
        elif a == b"store" and i + 1 < n:
            store = (i + 1, PERM_W)
        i += 1
    if store is not None:
        keys.append(store)
    return keys


def _migrate_keys(argv):
    from .commands.migrate import migrate_key_range
    first, num = migrate_key_range(argv)
    n = len(argv)
    return [(first + k, _RW) for k in range(num) if first + k < n]


_SPECIAL_KEYS = {"set": _set_keys, "bitfield": _bitfield_keys, "sort": _sort_keys,
                 "sort_ro": lambda argv: [(1, _R)], "migrate": _migrate_keys}


def acl_keys(cmd, argv):
    """The (argv index, PERM_* needed) pairs of the keys a command touches."""
    special = _SPECIAL_KEYS.get(cmd.fullname)
    if special is not None:
        return special(argv)
    if not cmd.key_specs and cmd.getkeys is None:
        return ()
    try:
        pos = cmd.key_positions(argv, with_flags=True)
    except (IndexError, ValueError):
        pos = None
    if not pos:
        return ()
    return [(p, _perm_of(f)) for p, f in pos]


# ---------------------------------------------------------------------------------------
# The server's ACL state
# ---------------------------------------------------------------------------------------
def _script_argv(srv):
    """The argv of the EVAL/FCALL being run (its caller's current command)."""
    for st in (getattr(srv, "scripting", None), getattr(srv, "functions", None)):
        e = getattr(st, "_engine", None)
        if e is not None and e.ctx is not None:
            return e.ctx.argv
    return None


class Acl:
    def __init__(self, srv):
        self.srv = srv
        self.users = {}            # name (str) -> User
        self.log = deque()         # newest first: dicts (see add_log)
        self.restricted = set()    # names of users whose clients take the checked path
        self.default = self.create_default_user()
        self.users["default"] = self.default
        self.update_restricted(self.default)

    # -- configuration ----------------------------------------------------------------
    @property
    def pubsub_default(self):
        v = self.srv.config.values.get("acl-pubsub-default", "resetchannels")
        return F_ALLCHANNELS if v in ("allchannels", 1) else 0

    def create_default_user(self):
        u = User("default", self.pubsub_default)
        for op in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
            u.apply(op)
        return u

    def set_default_password(self, password):
        """ACLUpdateDefaultUserPassword (requirepass)."""
        u = self.default
        u.apply(b"resetpass")
        if password:
            u.apply(b">" + _enc(password))
        else:
            u.apply(b"nopass")

    def default_requires_auth(self):
        f = self.default.flags
        return not (f & U_NOPASS) or bool(f & U_OFF)

    def default_nopass(self):
        return bool(self.default.flags & U_NOPASS)

    def get_user(self, name):
        if isinstance(name, bytes):
            name = _dec(name)
        return self.users.get(name)

    def sorted_users(self):
        return sorted(self.users.values(), key=lambda u: _enc(u.name))

    # -- restricted users / client bookkeeping --------------------------------------
    def update_restricted(self, u):
        if u.unrestricted():
            self.restricted.discard(u.name)
        else:
            self.restricted.add(u.name)

    def user_changed(self, u):
        self.update_restricted(u)
        for c in list(self.srv.clients.values()):
            if c.user == u.name:
                c.update_checks()

    def kill_clients_of(self, name, current=None):
        """ACLFreeUserAndKillClients: clients authenticated as the user go away (the
        current client after its reply)."""
        for c in list(self.srv.clients.values()):
            if c.user == name and c.authenticated:
                c.user = "default"
                c.authenticated = False
                c.parser.auth_required = self.default_requires_auth()
                c.update_checks()
                if c is current:
                    c.closing = True
                else:
                    c.kill()

    # -- authentication ---------------------------------------------------------------
    def check_credentials(self, username, password):
        """ACLCheckUserCredentials in constant time for a given user: every attempt
        hashes the password and compares digests with hmac.compare_digest."""
        hashed = hash_password(password)
        u = self.users.get(_dec(username))
        if u is None:
            hmac.compare_digest(hashed, hashed)
            return None
        ok = False
        for p in u.passwords:
            if hmac.compare_digest(hashed, p):
                ok = True
        if u.flags & U_OFF:
            return None
        if u.flags & U_NOPASS or ok:
            return u
        return None

    def authenticate(self, c, username, password, cmdname=b"auth"):
        u = self.check_credentials(username, password)
        if u is None:
            self.add_log(c, DENIED_AUTH, self.context(c), object_=cmdname,
                         username=username)
            return False
        c.authenticated = True
        c.user = u.name
        c.parser.auth_required = False
        c.update_checks()
        return True

    # -- permission checks ------------------------------------------------------------
    @staticmethod
    def context(c):
        return "multi" if c.multi is not None else "toplevel"

    def check(self, c, cmd, argv):
        """processCommand's ACL step: None, or the NOPERM error text (logged)."""
        name = c.user
        if name not in self.restricted:
            return None
        u = self.users.get(name)
        if u is None:
            return None
        reason, pos = u.check(cmd, argv)
        if reason == OK_:
            return None
        if not c.in_exec:
            c.last_cmd = cmd
        self.add_log(c, reason, self.context(c), pos=pos, cmd=cmd, argv=argv)
        if reason == DENIED_CMD:
            return NOPERM_CMD % cmd.fullname
        if reason == DENIED_KEY:
            return NOPERM_KEY
        return NOPERM_CHANNEL

    def check_code(self, c, cmd, argv, context="lua"):
        """For scripts / modules: (reason, pos) with the denial logged in `context`."""
        u = self.users.get(c.user)
        if u is None or c.user not in self.restricted:
            return OK_, 0
        reason, pos = u.check(cmd, argv)
        if reason != OK_:
            self.add_log(c, reason, context, pos=pos, cmd=cmd, argv=argv)
        return reason, pos

    def can_access_all_keys(self, c, cmd, argv):
        u = self.users.get(c.user)
        if u is None or c.user not in self.restricted:
            return True
        return u.can_access_all_keys(cmd, argv)

    # -- the ACL log --------------------------------------------------------------------
    def add_log(self, c, reason, context, pos=0, cmd=None, argv=None, object_=None,
                username=None):
        if object_ is None:
            if reason == DENIED_CMD:
                object_ = cmd.fullname.encode()
            elif reason in (DENIED_KEY, DENIED_CHANNEL):
                object_ = argv[pos]
            else:
                object_ = b""
        uname = username if username is not None else _enc(c.user)
        now = int(time.time() * 1000)
        # the client info of server.current_client when there is one: a script's
        # caller, not the script's own client
        real = getattr(self.srv, "script_caller", None) if context == "lua" else None
        try:
            if real is not None:
                cinfo = real.info_line(_script_argv(self.srv))
            else:
                cinfo = c.info_line(argv)
            cinfo = cinfo.encode("utf-8", "surrogateescape")
        except Exception:   # pragma: no cover - a fake client
            cinfo = b""
        log = self.log
        for i, e in enumerate(log):
            if i >= 10:
                break
            if (e["reason"] == reason and e["context"] == context
                    and abs(e["ctime"] - now) <= 60000 and e["object"] == object_
                    and e["username"] == uname):
                del log[i]
                e["cinfo"] = cinfo
                e["ctime"] = now
                e["count"] += 1
                log.appendleft(e)
                return
        log.appendleft({"count": 1, "reason": reason, "context": context, "object": object_,
                        "username": uname, "ctime": now, "cinfo": cinfo})
        maxlen = self.srv.config.values["acllog-max-len"]
        while len(log) > maxlen:
            log.pop()

    # -- SETUSER / DELUSER --------------------------------------------------------------
    def set_user(self, name, ops):
        """ACLStringSetUser: apply all rules to a copy; error text or None."""
        merged, bad = merge_selector_args(ops)
        if merged is None:
            return "Unmatched parenthesis in acl selector starting at '%s'." % _cs(ops[bad])
        old = self.users.get(name)
        pd = self.pubsub_default
        temp = old.copy() if old is not None else User(name, pd)
        for op in merged:
            try:
                temp.apply(op, pd)
            except AclOpError as e:
                return "Error in ACL SETUSER modifier '%s': %s" % (_cs(op), e.message)
        if old is not None:
            self.kill_pubsub_clients_if_needed(temp, old)
            old.copy_from(temp)
            self.user_changed(old)
        else:
            self.users[name] = temp
            self.update_restricted(temp)
        return None

    def delete_user(self, name, current=None):
        u = self.users.pop(name, None)
        if u is None:
            return False
        self.restricted.discard(name)
        self.kill_clients_of(name, current)
        return True

    def kill_pubsub_clients_if_needed(self, new, old):
        """ACLKillPubsubClientsIfNeeded: subscribers that lost a channel permission."""
        if any(s.flags & F_ALLCHANNELS for s in new.selectors):
            return
        upcoming = [ch for s in new.selectors for ch in s.channels]
        match = True
        for s in old.selectors:
            if s.flags & F_ALLCHANNELS:
                match = False
                break
            if any(ch not in upcoming for ch in s.channels):
                match = False
                break
        if match:
            return
        up = upcoming

        def allowed(ch, is_pattern):
            for pat in up:
                if (pat == ch) if is_pattern else compile_glob(pat)(ch):
                    return True
            return False

        for c in list(self.srv.clients.values()):
            if c.user != old.name or not c.subscribed:
                continue
            kill = any(not allowed(p, True) for p in c.patterns)
            if not kill:
                kill = (any(not allowed(ch, False) for ch in c.channels)
                        or any(not allowed(ch, False) for ch in c.shard_channels))
            if kill:
                c.kill()

    # -- loading ------------------------------------------------------------------------
    def load_configured_users(self, user_args):
        """ACLLoadConfiguredUsers: `user` directives of redis.conf (a list of
        [name, rule, ...] str lists). Returns an error text to log, or None."""
        pd = self.pubsub_default
        for args in user_args:
            name = args[0]
            bname = _enc(name)
            if _has_spaces(bname):
                return "Spaces not allowed in ACL usernames"
            merged, _bad = merge_selector_args([_enc(a) for a in args[1:]])
            if merged is None:
                merged = []
            u = self.users.get(name)
            if u is None:
                u = self.users[name] = User(name, pd)
            else:
                u.apply(b"reset", pd)
            for op in merged:
                try:
                    u.apply(op, pd)
                except AclOpError as e:
                    return ("Error loading ACL rule '%s' for the user named '%s': %s"
                            % (_dec(op), name, e.message))
            if u.flags & U_OFF:
                self.srv.log("notice", "The user '%s' is disabled (there is no 'on' modifier "
                             "in the user description). Make sure this is not a "
                             "configuration error." % name)
            self.update_restricted(u)
        return None

    def load_file(self, filename, current=None):
        """ACLLoadFromFile: replace all users with the file's, or nothing on errors.
        Returns None or the error text."""
        try:
            with open(filename, "rb") as f:
                data = f.read()
        except OSError as e:
            return "Error loading ACLs, opening file '%s': %s" % (filename, e.strerror)
        fname = self.srv.config.values["aclfile"]
        errors = []
        users = {}
        pd = self.pubsub_default
        for i, line in enumerate(data.split(b"\n")):
            linenum = i + 1
            line = line.strip(b" \t\r\n")
            if not line:
                continue
            argv = line.split(b" ")
            if argv[0] != b"user" or len(argv) < 2:
                errors.append("%s:%d should start with user keyword followed by the "
                              "username. " % (fname, linenum))
                continue
            if _has_spaces(argv[1]):
                errors.append("'%s:%d: username '%s' contains invalid characters. "
                              % (fname, linenum, _dec(argv[1])))
                continue
            name = _dec(argv[1])
            if name in users:
                errors.append("WARNING: Duplicate user '%s' found on line %d. "
                              % (name, linenum))
                continue
            u = users[name] = User(name, pd)
            merged, _bad = merge_selector_args(argv[2:])
            if merged is None:
                errors.append("%s:%d: Unmatched parenthesis in selector definition."
                              % (fname, linenum))
                merged = []
            syntax_error = False
            for op in merged:
                op = op.strip(b"\t\r\n")
                try:
                    u.apply(op, pd)
                except AclOpError as e:
                    if e.args[0] == ENOENT:
                        errors.append("%s:%d: Error in applying operation '%s': %s. "
                                      % (fname, linenum, _dec(op), e.message))
                    elif not syntax_error:
                        errors.append("%s:%d: %s. " % (fname, linenum, e.message))
                        syntax_error = True
        if errors:
            return "".join(errors) + ("WARNING: ACL errors detected, no change to the "
                                      "previously active ACL rules was performed")
        new_default = users.get("default")
        if new_default is None:
            new_default = self.create_default_user()
        self.default.copy_from(new_default)
        users["default"] = self.default
        old = self.users
        self.users = users
        self.restricted = set()
        for u in users.values():
            self.update_restricted(u)
        for name in old:
            if name != "default":
                self.kill_clients_of(name, current)
        for c in list(self.srv.clients.values()):
            c.update_checks()
        return None

    def save_file(self, filename):
        """ACLSaveToFile: write to a temp file, then rename. True on success."""
        data = b"".join(b"user " + _enc(u.name) + b" " + u.describe() + b"\n"
                        for u in self.sorted_users())
        tmp = "%s.tmp-%d-%d" % (filename, os.getpid(), int(time.time() * 1000))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o644)
        except OSError as e:
            self.srv.log("warning", "Opening temp ACL file for ACL SAVE: %s" % e.strerror)
            return False
        try:
            try:
                os.write(fd, data)
            except OSError as e:
                self.srv.log("warning", "Writing ACL file for ACL SAVE: %s" % e.strerror)
                return False
            finally:
                os.close(fd)
            try:
                os.rename(tmp, filename)
            except OSError as e:
                self.srv.log("warning", "Renaming ACL file for ACL SAVE: %s" % e.strerror)
                return False
            tmp = None
            return True
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def rewrite_lines(self):
        """The `user` lines CONFIG REWRITE writes (rewriteConfigUserOption)."""
        return ["user %s %s" % (u.name, _dec(u.describe())) for u in self.sorted_users()]


# ---------------------------------------------------------------------------------------
# Config-time validation of `user` directives (ACLAppendUserForLoading)
# ---------------------------------------------------------------------------------------
def config_hooks(cfg):
    """Install the `user` directive validator and the CONFIG REWRITE hook on a Config
    before it loads redis.conf."""
    from .config import ConfigError

    def validate(args):
        full = ["user"] + list(args)
        err_idx = None
        code = None
        if any(a[0] == args[0] for a in cfg.user_directive_args):
            err_idx, code = 1, EALREADY
        else:
            merged, bad = merge_selector_args([_enc(a) for a in args[1:]])
            if merged is None:
                # Redis reports a stale errno here (ENOENT on Debian's build)
                err_idx, code = bad, ENOENT
            else:
                fake = User("__fakeuser:0__")
                for j, op in enumerate(merged):
                    try:
                        fake.apply(op)
                    except AclOpError as e:
                        if e.args[0] != ENOENT:
                            err_idx, code = j, e.args[0]
                            break
        if err_idx is not None:
            raise ConfigError("Error in user declaration '%s': %s"
                              % (full[err_idx] if err_idx < len(full) else "",
                                 ERRMSG.get(code, "Wrong format")))

    cfg.user_validator = validate
