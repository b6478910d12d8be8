"""TLS listeners (tls-port) with Python's ssl module: redis-py (ssl=True) and redis-cli
--tls connect; tls-auth-clients yes/no/optional; tls-protocols; CONFIG SET reconfigures;
the replication client context."""
import os
import shutil
import ssl
import subprocess
import sys

import pytest
import redis

from conftest import ROOT, Raw, free_port, start_redislet, ServerProcess

OPENSSL = shutil.which("openssl")
REDIS_CLI = shutil.which("redis-cli")


def _openssl(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA, a server certificate and a client certificate, all signed by the CA."""
    d = tmp_path_factory.mktemp("certs")
    if OPENSSL is None:
        try:
            import cryptography  # noqa: F401
        except ImportError:
            pytest.skip("neither the openssl command nor the cryptography package is "
                        "available to make test certificates")
        pytest.skip("the openssl command is needed to make test certificates")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.crt", "-days", "2", "-subj", "/CN=redislet test CA", cwd=d)
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                 name + ".csr", "-subj", "/CN=localhost", cwd=d)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", name + ".crt", "-days", "2", cwd=d)
    return d


def _start(tmp_path, certs, *extra):
    port, tls_port = free_port(), free_port()
    argv = [sys.executable, "-m", "redislet", "--port", str(port), "--save", "", "--bind",
            "127.0.0.1", "--tls-port", str(tls_port),
            "--tls-cert-file", str(certs / "server.crt"),
            "--tls-key-file", str(certs / "server.key"),
            "--tls-ca-cert-file", str(certs / "ca.crt"), *extra]
    s = ServerProcess(argv, port, str(tmp_path))
    s.tls_port = tls_port
    return s


def _client(s, certs, cert=True, **kw):
    args = dict(port=s.tls_port, ssl=True, ssl_ca_certs=str(certs / "ca.crt"),
                ssl_cert_reqs="required", ssl_check_hostname=False, socket_timeout=5)
    if cert:
        args.update(ssl_certfile=str(certs / "client.crt"),
                    ssl_keyfile=str(certs / "client.key"))
    args.update(kw)
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    return redis.Redis(retry=Retry(NoBackoff(), 0), **args)


def test_tls_redis_py(tmp_path, certs):
    s = _start(tmp_path, certs)
    try:
        r = _client(s, certs)
        assert r.ping() is True
        r.set("k", "v" * 100000)
        assert r.get("k") == b"v" * 100000
        # a pipeline of many commands over TLS
        p = r.pipeline(transaction=False)
        for i in range(500):
            p.incr("n")
        assert p.execute()[-1] == 500
        r3 = _client(s, certs, protocol=3)
        assert r3.get("n") == b"500"
        # the plain port still works
        assert Raw(s.port).cmd("GET", "n") == b"$3\r\n500\r\n"
        # tls-auth-clients yes (default): no client certificate, no connection
        with pytest.raises((redis.exceptions.ConnectionError, ssl.SSLError, OSError)):
            _client(s, certs, cert=False).ping()
    finally:
        s.stop()


def test_tls_auth_clients_optional_and_no(tmp_path, certs):
    s = _start(tmp_path, certs, "--tls-auth-clients", "optional")
    try:
        assert _client(s, certs, cert=False).ping() is True
        assert _client(s, certs).ping() is True
        assert Raw(s.port).cmd("CONFIG", "SET", "tls-auth-clients", "yes") == b"+OK\r\n"
        with pytest.raises((redis.exceptions.ConnectionError, ssl.SSLError, OSError)):
            _client(s, certs, cert=False).ping()
        assert Raw(s.port).cmd("CONFIG", "SET", "tls-auth-clients", "no") == b"+OK\r\n"
        assert _client(s, certs, cert=False).ping() is True
    finally:
        s.stop()


def test_tls_redis_cli(tmp_path, certs):
    if REDIS_CLI is None:
        pytest.skip("redis-cli is not installed")
    s = _start(tmp_path, certs)
    try:
        out = subprocess.run([REDIS_CLI, "-p", str(s.tls_port), "--tls", "--cacert",
                              str(certs / "ca.crt"), "--cert", str(certs / "client.crt"),
                              "--key", str(certs / "client.key"), "SET", "a", "b"],
                             capture_output=True, timeout=10)
        assert out.stdout.strip() == b"OK"
        out = subprocess.run([REDIS_CLI, "-p", str(s.tls_port), "--tls", "--cacert",
                              str(certs / "ca.crt"), "--cert", str(certs / "client.crt"),
                              "--key", str(certs / "client.key"), "CLIENT", "LIST"],
                             capture_output=True, timeout=10)
        assert b"laddr=127.0.0.1:%d" % s.tls_port in out.stdout
    finally:
        s.stop()


def test_tls_protocols(tmp_path, certs):
    s = _start(tmp_path, certs, "--tls-protocols", "TLSv1.3", "--tls-auth-clients", "no")
    try:
        ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        ctx.check_hostname = False
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        import socket
        with pytest.raises((ssl.SSLError, OSError)):
            with socket.create_connection(("127.0.0.1", s.tls_port), timeout=5) as sock:
                with ctx.wrap_socket(sock) as ts:
                    ts.sendall(b"PING\r\n")
                    ts.recv(10)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        with socket.create_connection(("127.0.0.1", s.tls_port), timeout=5) as sock:
            with ctx.wrap_socket(sock) as ts:
                assert ts.version() == "TLSv1.3"
                ts.sendall(b"PING\r\n")
                assert ts.recv(10) == b"+PONG\r\n"
        c = Raw(s.port)
        assert c.cmd("CONFIG", "SET", "tls-protocols", "TLSv1.2") == b"+OK\r\n"
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", s.tls_port), timeout=5) as sock:
            with ctx.wrap_socket(sock) as ts:
                assert ts.version() == "TLSv1.2"
        assert c.cmd("CONFIG", "SET", "tls-protocols", "TLSv9") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'tls-protocols') - Unable "
            b"to update TLS configuration. Check server logs.\r\n")
        assert c.cmd("CONFIG", "SET", "tls-ciphers", "NOSUCHCIPHER") == (
            b"-ERR CONFIG SET failed (possibly related to argument 'tls-ciphers') - Unable "
            b"to update TLS configuration. Check server logs.\r\n")
        assert c.cmd("CONFIG", "GET", "tls-protocols") == (
            b"*2\r\n$13\r\ntls-protocols\r\n$7\r\nTLSv1.2\r\n")
    finally:
        s.stop()


def test_tls_bad_certificate_at_startup(tmp_path, certs):
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate\n")
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable, "-m", "redislet", "--port", str(port), "--save", "",
                        "--tls-port", str(free_port()), "--tls-cert-file", str(bad),
                        "--tls-key-file", str(certs / "server.key"), "--tls-ca-cert-file",
                        str(certs / "ca.crt")], capture_output=True, timeout=20, env=env,
                       cwd=str(tmp_path))
    assert p.returncode == 1
    assert b"Failed to load certificate: " in p.stdout
    assert b"Failed to configure TLS. Check logs for more info." in p.stdout


def test_tls_port_config_set(tmp_path, certs):
    s = start_redislet(tmp_path)
    try:
        c = Raw(s.port)
        tls_port = free_port()
        for name, f in (("tls-cert-file", "server.crt"), ("tls-key-file", "server.key"),
                        ("tls-ca-cert-file", "ca.crt")):
            assert c.cmd("CONFIG", "SET", name, str(certs / f)) == b"+OK\r\n"
        assert c.cmd("CONFIG", "SET", "tls-port", str(tls_port)) == b"+OK\r\n"
        s.tls_port = tls_port
        assert _client(s, certs).ping() is True
        assert c.cmd("CONFIG", "SET", "tls-port", "0") == b"+OK\r\n"
        with pytest.raises((redis.exceptions.ConnectionError, OSError)):
            _client(s, certs).ping()
    finally:
        s.stop()


def test_replication_client_context(certs):
    """tls.client_context: what a replica uses to reach a TLS master."""
    from redislet.config import Config
    from redislet import tls
    cfg = Config()
    v = cfg.values
    v["tls-cert-file"] = str(certs / "client.crt")
    v["tls-key-file"] = str(certs / "client.key")
    v["tls-ca-cert-file"] = str(certs / "ca.crt")
    v["tls-replication"] = True
    ctx = tls.client_context(v)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and not ctx.check_hostname
    sctx = tls.server_context(v)
    assert sctx.verify_mode == ssl.CERT_REQUIRED
    v["tls-ca-cert-file"] = ""
    with pytest.raises(tls.TLSConfigError):
        tls.client_context(v)
    assert tls.parse_protocols("TLSv1.2 tlsv1.3") == {"tlsv1.2", "tlsv1.3"}
    with pytest.raises(tls.TLSConfigError):
        tls.parse_protocols("SSLv3")
