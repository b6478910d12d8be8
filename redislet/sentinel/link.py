"""Sentinel's outbound connections (hiredis async contexts in sentinel.c): a RESP client
over asyncio with a FIFO of reply callbacks.

A connection is usable as soon as it is created (commands written before the TCP
connection is established are buffered, as hiredis's async API does); a failed connect or
a lost connection calls on_close once, which is where the owning link forgets it
(instanceLinkConnectionError). Callbacks receive the parsed reply: bytes (status and bulk
alike, as hiredis-py gives them), int, list, None, or hiredis.ReplyError for errors.
"""
import asyncio

import hiredis


def encode_command(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = b"%d" % a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn(asyncio.Protocol):
    def __init__(self, loop, host, port, on_close, source_addr=None):
        self.loop = loop
        self.transport = None
        self.reader = hiredis.Reader()
        self.callbacks = []          # reply callbacks, in order
        self.sub_cb = None           # the subscription's callback (pub/sub messages)
        self.buf = []
        self.closed = False
        self.on_close = on_close
        self.sockname = None
        self.task = loop.create_task(self._connect(host, port, source_addr))

    async def _connect(self, host, port, source_addr):
        # redisAsyncConnectBind: from bind-source-addr when set (no fallback, as hiredis)
        try:
            await self.loop.create_connection(
                lambda: self, host, port,
                local_addr=(source_addr, 0) if source_addr else None)
        except (OSError, asyncio.CancelledError, ValueError):
            self._closed()

    def connection_made(self, transport):
        if self.closed:
            transport.abort()
            return
        self.transport = transport
        try:
            self.sockname = transport.get_extra_info("sockname")
        except Exception:
            self.sockname = None
        if self.buf:
            transport.write(b"".join(self.buf))
            self.buf = []

    def command(self, callback, *args, persistent=False):
        """redisAsyncCommand: queue args; callback(reply) runs when the reply arrives."""
        if self.closed:
            return False
        if persistent:
            self.sub_cb = callback      # SUBSCRIBE: no entry in the reply queue (hiredis)
        else:
            self.callbacks.append(callback)
        data = encode_command(args)
        if self.transport is not None:
            self.transport.write(data)
        else:
            self.buf.append(data)
        return True

    def data_received(self, data):
        self.reader.feed(data)
        while not self.closed:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError:
                self.close()
                return
            if reply is False:
                return
            if self.callbacks:
                cb = self.callbacks.pop(0)
            elif isinstance(reply, hiredis.ReplyError):
                # redisProcessCallbacks: an error nobody waits for (e.g. -NOAUTH to
                # SUBSCRIBE, -ERR max clients) disconnects the context
                self.transport.abort()
                self._closed()
                return
            elif self.sub_cb is not None:
                cb = self.sub_cb
            else:
                continue
            try:
                cb(reply)
            except Exception:      # a bug in a callback must not kill the connection loop
                import traceback
                traceback.print_exc()

    def connection_lost(self, exc):
        self._closed()

    def _closed(self):
        if self.closed:
            return
        self.closed = True
        self.callbacks = []
        cb, self.on_close = self.on_close, None
        if cb is not None:
            cb(self)

    def close(self):
        """redisAsyncFree: drop the connection (no callback to the owner)."""
        self.on_close = None
        if self.transport is not None:
            self.transport.abort()
        elif not self.task.done():
            self.task.cancel()
        self.closed = True
        self.callbacks = []
