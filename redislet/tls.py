"""TLS (Redis 7.0.15 tls.c) with Python's ssl module.

server_context(values) builds the context of the tls-port listeners; client_context(values)
the one outgoing connections use (tls-replication: a replica connecting to its master):

    ctx = tls.client_context(srv.config.values)
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname=None)

Both raise TLSConfigError after logging Redis's message (through `log`, when given).
install(srv) adds the tls-port listeners at start-up and rebuilds them when CONFIG SET
changes a tls-* directive (tlsConfigure / changeListenPort).
"""
import ssl

PROTOCOLS = {"tlsv1": ssl.TLSVersion.TLSv1, "tlsv1.1": ssl.TLSVersion.TLSv1_1,
             "tlsv1.2": ssl.TLSVersion.TLSv1_2, "tlsv1.3": ssl.TLSVersion.TLSv1_3}
_ORDER = ["tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3"]
CONFIG_NAMES = ("tls-port", "tls-cert-file", "tls-key-file", "tls-key-file-pass",
                "tls-client-cert-file", "tls-client-key-file", "tls-client-key-file-pass",
                "tls-dh-params-file", "tls-ca-cert-file", "tls-ca-cert-dir", "tls-protocols",
                "tls-ciphers", "tls-ciphersuites", "tls-prefer-server-ciphers",
                "tls-session-caching", "tls-session-cache-size", "tls-session-cache-timeout",
                "tls-auth-clients", "tls-replication", "tls-cluster")


class TLSConfigError(Exception):
    pass


def _fail(log, msg):
    if log is not None:
        log("warning", msg)
    raise TLSConfigError(msg)


def parse_protocols(text, log=None):
    """parseProtocolsConfig: the enabled versions (default TLSv1.2 and TLSv1.3)."""
    if not text:
        return {"tlsv1.2", "tlsv1.3"}
    out = set()
    for tok in text.split(" "):
        if not tok:
            continue
        low = tok.lower()
        if low not in PROTOCOLS:
            _fail(log, "Invalid tls-protocols specified. Use a combination of 'TLSv1', "
                  "'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.")
        out.add(low)
    if not out:
        _fail(log, "Invalid tls-protocols configuration string")
    return out


def _base_context(v, client, log):
    cert = v["tls-client-cert-file"] if client and v["tls-client-cert-file"] else v["tls-cert-file"]
    key = v["tls-client-key-file"] if client and v["tls-client-key-file"] else v["tls-key-file"]
    pw = (v["tls-client-key-file-pass"] if client and v["tls-client-cert-file"]
          else v["tls-key-file-pass"])
    if not v["tls-cert-file"]:
        _fail(log, "No tls-cert-file configured!")
    if not v["tls-key-file"]:
        _fail(log, "No tls-key-file configured!")
    if ((v["tls-auth-clients"] != "no" or v["tls-cluster"] or v["tls-replication"])
            and not v["tls-ca-cert-file"] and not v["tls-ca-cert-dir"]):
        _fail(log, "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when "
              "tls-cluster, tls-replication or tls-auth-clients are enabled!")
    protos = parse_protocols(v["tls-protocols"], log)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT if client else ssl.PROTOCOL_TLS_SERVER)
    enabled = [p for p in _ORDER if p in protos]
    try:
        ctx.minimum_version = PROTOCOLS[enabled[0]]
        ctx.maximum_version = PROTOCOLS[enabled[-1]]
    except ValueError:
        pass
    for p in _ORDER[_ORDER.index(enabled[0]):_ORDER.index(enabled[-1]) + 1]:
        if p not in protos:     # a hole in the range (e.g. "TLSv1.1 TLSv1.3")
            ctx.options |= {"tlsv1": ssl.OP_NO_TLSv1, "tlsv1.1": ssl.OP_NO_TLSv1_1,
                            "tlsv1.2": ssl.OP_NO_TLSv1_2, "tlsv1.3": ssl.OP_NO_TLSv1_3}[p]
    ctx.options |= getattr(ssl, "OP_NO_COMPRESSION", 0)
    try:
        ctx.load_cert_chain(cert, key, password=(pw or None) and (lambda: pw))
    except (ssl.SSLError, OSError) as e:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, None)
            bad_cert = False
        except (ssl.SSLError, OSError):
            bad_cert = True
        if bad_cert:
            _fail(log, "Failed to load certificate: %s: %s" % (cert, _errtext(e)))
        _fail(log, "Failed to load private key: %s: %s" % (key, _errtext(e)))
    if v["tls-ca-cert-file"] or v["tls-ca-cert-dir"]:
        try:
            ctx.load_verify_locations(cafile=v["tls-ca-cert-file"] or None,
                                      capath=v["tls-ca-cert-dir"] or None)
        except (ssl.SSLError, OSError) as e:
            _fail(log, "Failed to configure CA certificate(s) file/directory: %s"
                  % _errtext(e))
    if v["tls-ciphers"]:
        try:
            ctx.set_ciphers(v["tls-ciphers"])
        except ssl.SSLError:
            _fail(log, "Failed to configure ciphers: %s" % v["tls-ciphers"])
    # tls-ciphersuites (TLSv1.3): Python's ssl module has no API for them; OpenSSL's
    # defaults apply
    return ctx


def _errtext(e):
    return getattr(e, "reason", None) or getattr(e, "strerror", None) or str(e)


def server_context(v, log=None):
    """tlsConfigure: the context of the TLS listeners."""
    ctx = _base_context(v, False, log)
    mode = v["tls-auth-clients"]
    ctx.verify_mode = (ssl.CERT_REQUIRED if mode == "yes" else
                       ssl.CERT_OPTIONAL if mode == "optional" else ssl.CERT_NONE)
    if v["tls-prefer-server-ciphers"]:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    if not v["tls-session-caching"]:
        ctx.options |= ssl.OP_NO_TICKET
    ctx.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    if v["tls-dh-params-file"]:
        try:
            ctx.load_dh_params(v["tls-dh-params-file"])
        except (ssl.SSLError, OSError) as e:
            _fail(log, "Failed to load DH params file: %s: %s"
                  % (v["tls-dh-params-file"], _errtext(e)))
    return ctx


def client_context(v, log=None):
    """The context of outgoing connections (replication): the server certificate is
    verified against the CA, without host name checks (as Redis)."""
    ctx = _base_context(v, True, log)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


# ---------------------------------------------------------------------------------------
# listeners
# ---------------------------------------------------------------------------------------
class _TLSListeners:
    def __init__(self, srv):
        self.srv = srv
        self.ctx = None
        self.servers = []
        self.port = 0
        self.bound = None

    def close(self):
        for s in self.servers:
            s.close()
            if s in self.srv.listeners:
                self.srv.listeners.remove(s)
        self.servers = []

    async def serve(self, socks, ctx):
        srv = self.srv
        for s in socks:
            # the TLS handshake runs before connection_made: a client that never
            # completes it is dropped after the timeout
            server = await srv.loop.create_server(
                lambda: srv.client_class(srv), sock=s, ssl=ctx, ssl_handshake_timeout=10,
                backlog=srv.config.values["tcp-backlog"], start_serving=srv.serving)
            self.servers.append(server)
            srv.listeners.append(server)


def install(srv):
    """Called by RedisServer.start (after the TCP listeners)."""
    from .config import ConfigError
    tl = srv.tls = _TLSListeners(srv)
    v = srv.config.values

    async def start():
        if v["tls-port"] or v["tls-replication"] or v["tls-cluster"]:
            try:
                tl.ctx = server_context(v, srv.log)
            except TLSConfigError:
                srv.log("warning", "Failed to configure TLS. Check logs for more info.")
                raise OSError("Failed to configure TLS") from None
        if v["tls-port"]:
            port, socks = srv._bind_sockets(v["tls-port"], v["bind"])
            tl.port = port
            tl.bound = (v["tls-port"], list(v["bind"]))
            await tl.serve(socks, tl.ctx)

    def changed(_value):
        if tl.bound == ((v["tls-port"], list(v["bind"])) if v["tls-port"] else None) and \
                _value is v["bind"]:
            return      # a bind change that leaves the TLS listeners as they are
        if not (v["tls-port"] or v["tls-replication"] or v["tls-cluster"]):
            tl.close()
            tl.bound = None
            return
        try:
            ctx = server_context(v, srv.log)
        except TLSConfigError:
            raise ConfigError("Unable to update TLS configuration. Check server logs.")
        tl.ctx = ctx
        want = (v["tls-port"], list(v["bind"])) if v["tls-port"] else None
        if want is None:
            tl.close()
            tl.bound = None
            return
        # a new context (or port) applies to new connections: rebind the listeners
        tl.close()
        try:
            port, socks = srv._bind_sockets(v["tls-port"], v["bind"])
        except OSError as e:
            srv.log("warning", str(e))
            raise ConfigError("Unable to listen on this port. Check server logs.")
        tl.port = port
        tl.bound = want
        srv.loop.create_task(tl.serve(socks, ctx))

    for name in CONFIG_NAMES + ("bind",):
        srv.config.on_change(name, changed)
    return start()


def is_tls(client):
    """The client connected through a TLS listener."""
    tr = client.transport
    return tr is not None and tr.get_extra_info("ssl_object") is not None
