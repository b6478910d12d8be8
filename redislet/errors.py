"""Error replies shared by the command modules (Redis's exact texts)."""


class CommandError(Exception):
    """Raised by a handler to answer with an error reply; args[0] is the text without '-'."""

    __slots__ = ()

    @property
    def reply(self):
        msg = self.args[0]
        if "\n" in msg or "\r" in msg:
            msg = msg.replace("\r", " ").replace("\n", " ")
        return b"-" + msg.encode("utf-8", "surrogateescape") + b"\r\n"


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
NO_SUCH_KEY = "ERR no such key"
OUT_OF_RANGE = "ERR index out of range"
INVALID_DB = "ERR DB index is out of range"
NOAUTH = "NOAUTH Authentication required."

WRONGTYPE_REPLY = b"-" + WRONGTYPE.encode() + b"\r\n"
SYNTAX_REPLY = b"-ERR syntax error\r\n"
NOT_INTEGER_REPLY = b"-ERR value is not an integer or out of range\r\n"


def wrong_args(name):
    return CommandError("ERR wrong number of arguments for '%s' command" % name)
