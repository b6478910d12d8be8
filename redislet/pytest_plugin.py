"""pytest plugin: real Redis servers and clusters for your tests, no conftest needed.

Registered through the `pytest11` entry point "redislet" (disable with `-p no:redislet`).
Nothing heavier than this module is imported until a test asks for one of its fixtures.

Fixtures
  redislet_server           session: an in-process redislet.Server (host, port, url, .server)
  redislet_client           function: redis.Redis on redislet_server, flushed before the test
  redislet_cluster          session: redislet.Cluster, 3 masters + 3 replicas by default
                            (startup_nodes: [(host, port)], url, nodes)
  redislet_cluster_client   function: redis.cluster.RedisCluster on redislet_cluster,
                            flushed before the test
  redislet_server_factory   function: factory(**directives) -> a started server, stopped
                            after the test (process=True: a separate process)
  redislet_client_factory   function: factory(server=None, **redis_kwargs) -> redis.Redis
                            (default server: redislet_server), closed after the test

Fixture factories (like pytest-redis's redis_proc / redisdb), at module level of a test
module or conftest:
  redislet_proc(scope="session", process=False, **directives)      -> a server fixture
  redislet_db(proc_fixture_name, **redis_kwargs)                  -> a flushed client fixture
  redislet_cluster_proc(scope="session", masters=3, replicas=1, **directives)
  redislet_cluster_db(proc_fixture_name, **redis_kwargs)

Options (command line / ini)
  --redislet-config NAME=VALUE (repeatable) / redislet_config (lines "name value")
  --redislet-protocol 2|3 / redislet_protocol           RESP version of the clients
  --redislet-decode-responses / redislet_decode_responses
  --redislet-cluster-masters N / redislet_cluster_masters   (default 3)
  --redislet-cluster-replicas N / redislet_cluster_replicas (default 1)

See docs/TESTING.md.
"""
import pytest

_REDIS_MISSING = ("%s needs redis-py, which is not installed: pip install redis "
                  "(or pip install 'redislet[test]')")


# -- options ---------------------------------------------------------------------------

def pytest_addoption(parser):
    group = parser.getgroup("redislet", "redislet (Redis servers for tests)")
    group.addoption("--redislet-config", action="append", default=[], metavar="NAME=VALUE",
                    help="config directive for the servers and clusters the redislet "
                         "fixtures start (repeatable), e.g. --redislet-config databases=4")
    group.addoption("--redislet-protocol", choices=("2", "3"), default=None,
                    help="RESP version of the redislet client fixtures (default 2)")
    group.addoption("--redislet-decode-responses", action="store_true", default=None,
                    help="redislet client fixtures decode replies to str")
    group.addoption("--redislet-cluster-masters", type=int, default=None, metavar="N",
                    help="masters of the redislet_cluster fixture (default 3)")
    group.addoption("--redislet-cluster-replicas", type=int, default=None, metavar="N",
                    help="replicas per master of the redislet_cluster fixture (default 1)")
    parser.addini("redislet_config", type="linelist", default=[],
                  help="config directives for redislet fixtures, one 'name value' per line")
    parser.addini("redislet_protocol", default="2",
                  help="RESP version of the redislet client fixtures (2 or 3)")
    parser.addini("redislet_decode_responses", type="bool", default=False,
                  help="redislet client fixtures decode replies to str")
    parser.addini("redislet_cluster_masters", default="3",
                  help="masters of the redislet_cluster fixture")
    parser.addini("redislet_cluster_replicas", default="1",
                  help="replicas per master of the redislet_cluster fixture")


def parse_directive(item):
    """'name=value' or 'name value' -> (name, value); a value in matching quotes is
    unquoted ('save ""' -> ('save', ''))."""
    item = item.strip()
    cut = len(item)
    for sep in ("=", " ", "\t"):
        i = item.find(sep)
        if 0 <= i < cut:
            cut = i
    name, value = item[:cut].strip(), item[cut + 1:].strip()
    if not name:
        raise pytest.UsageError("redislet: bad config directive %r (want name=value)" % item)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return name.replace("_", "-").lower(), value


def _normalise(directives):
    out = {}
    for k, v in directives.items():
        if isinstance(v, bool):
            v = "yes" if v else "no"
        out[k.replace("_", "-").lower()] = str(v)
    return out


def _ini(config, name, default):
    # the factories also work when the plugin itself is disabled (-p no:redislet), i.e.
    # when these ini keys and options were never registered
    try:
        return config.getini(name)
    except ValueError:
        return default


def config_directives(config):
    """The directives from the ini file, then the command line (which wins)."""
    out = {}
    for item in list(_ini(config, "redislet_config", [])) + list(
            config.getoption("redislet_config", None) or []):
        if item.strip() and not item.lstrip().startswith("#"):
            name, value = parse_directive(item)
            out[name] = value
    return out


def _protocol(config):
    p = (config.getoption("redislet_protocol", None)
         or _ini(config, "redislet_protocol", "2") or "2")
    if str(p) not in ("2", "3"):
        raise pytest.UsageError("redislet_protocol must be 2 or 3, not %r" % (p,))
    return int(p)


def _decode(config):
    v = config.getoption("redislet_decode_responses", None)
    return bool(v) if v is not None else bool(_ini(config, "redislet_decode_responses", False))


def _int_opt(config, name):
    v = config.getoption(name, None)
    if v is None:
        v = _ini(config, name, {"redislet_cluster_masters": "3"}.get(name, "1"))
    try:
        return int(v)
    except ValueError:
        raise pytest.UsageError("%s must be an integer, not %r" % (name, v)) from None


def _client_kwargs(config, kwargs):
    kw = {"protocol": _protocol(config), "decode_responses": _decode(config)}
    kw.update(kwargs)
    return kw


def _redis(fixture_name):
    try:
        import redis
    except ImportError:
        pytest.skip(_REDIS_MISSING % fixture_name)
    return redis


def _redis_cluster(fixture_name):
    try:
        import redis.cluster
    except ImportError:
        pytest.skip(_REDIS_MISSING % fixture_name)
    return redis.cluster


# -- starting and flushing -------------------------------------------------------------

def start_server(directives, process=False, host="127.0.0.1", port=0):
    """A started redislet: in-process (redislet.Server) or a separate process."""
    if process:
        from .launcher import ServerProcess as cls
    else:
        from .embed import Server as cls
    try:
        return cls(port=port, host=host, **directives).start()
    except SystemExit as e:      # a bad directive: redislet's start-up message
        raise RuntimeError("redislet did not start with %r: %s" % (directives, e)) from None


def flush_server(srv):
    """FLUSHALL + FUNCTION FLUSH + SCRIPT FLUSH on a server the fixtures started."""
    from .launcher import Connection
    c = Connection(srv.host, srv.port, password=getattr(srv, "password", None))
    try:
        for cmd in (("FLUSHALL",), ("FUNCTION", "FLUSH"), ("SCRIPT", "FLUSH")):
            c.call(*cmd)
    finally:
        c.close()


def _server_fixture_body(request, directives, process):
    conf = config_directives(request.config)
    conf.update(_normalise(directives))
    srv = start_server(conf, process=process)
    return srv


def _client_for(request, srv, fixture_name, flush, kwargs):
    redis = _redis(fixture_name)
    if flush:
        flush_server(srv)
    kw = _client_kwargs(request.config, kwargs)
    if getattr(srv, "password", None):
        kw.setdefault("password", srv.password)
    return redis.Redis(host=srv.host, port=srv.port, **kw)


def _cluster_client_for(request, cluster, fixture_name, flush, kwargs):
    rc = _redis_cluster(fixture_name)
    if flush:
        cluster.flushall()
    kw = _client_kwargs(request.config, kwargs)
    if getattr(cluster, "password", None):
        kw.setdefault("password", cluster.password)
    return rc.RedisCluster(startup_nodes=[rc.ClusterNode(h, p) for h, p in cluster.startup_nodes],
                           **kw)


def _start_cluster(request, masters, replicas, directives):
    from .launcher import Cluster
    conf = config_directives(request.config)
    conf.update(_normalise(directives))
    return Cluster(masters=masters, replicas=replicas, **conf).start()


# -- fixtures --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def redislet_server(request):
    """A redislet server for the whole session (in-process: redislet.Server), with the
    --redislet-config / redislet_config directives. host, port, url; .server is the
    RedisServer."""
    srv = _server_fixture_body(request, {}, False)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def redislet_client(request):
    """redis.Redis on redislet_server; the server is flushed (keys, functions, scripts)
    before the test. Protocol from --redislet-protocol / redislet_protocol."""
    _redis("redislet_client")     # skip before starting a server that would go unused
    client = _client_for(request, request.getfixturevalue("redislet_server"),
                         "redislet_client", True, {})
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def redislet_cluster(request):
    """A redislet.Cluster for the whole session: 3 masters with 1 replica each unless
    --redislet-cluster-masters/-replicas say otherwise; every node a separate process.
    startup_nodes [(host, port)], url, nodes, client()."""
    cluster = _start_cluster(request, _int_opt(request.config, "redislet_cluster_masters"),
                             _int_opt(request.config, "redislet_cluster_replicas"), {})
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def redislet_cluster_client(request):
    """redis.cluster.RedisCluster on redislet_cluster, flushed (every master, replicated)
    before the test."""
    _redis_cluster("redislet_cluster_client")   # skip before starting a whole cluster
    client = _cluster_client_for(request, request.getfixturevalue("redislet_cluster"),
                                 "redislet_cluster_client", True, {})
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def redislet_server_factory(request):
    """factory(process=False, **directives) -> a started server (redislet.Server, or
    with process=True a redislet.launcher.ServerProcess), stopped after the test."""
    started = []

    def factory(process=False, **directives):
        srv = _server_fixture_body(request, directives, process)
        started.append(srv)
        return srv

    try:
        yield factory
    finally:
        for srv in reversed(started):
            srv.stop()


@pytest.fixture
def redislet_client_factory(request):
    """factory(server=None, **redis_kwargs) -> redis.Redis on `server` (default: the
    session's redislet_server; not flushed), closed after the test."""
    clients = []

    def factory(server=None, **kwargs):
        _redis("redislet_client_factory")
        if server is None:
            server = request.getfixturevalue("redislet_server")
        client = _client_for(request, server, "redislet_client_factory", False, kwargs)
        clients.append(client)
        return client

    try:
        yield factory
    finally:
        for c in clients:
            c.close()


# -- fixture factories (pytest-redis style) --------------------------------------------

def redislet_proc(scope="session", *, process=False, **directives):
    """A fixture of a redislet server with these directives (on top of the
    --redislet-config ones), e.g. in a conftest or test module:

        redislet_lru = redislet_proc(maxmemory="10mb", maxmemory_policy="allkeys-lru")
    """
    @pytest.fixture(scope=scope)
    def _redislet_proc(request):
        srv = _server_fixture_body(request, directives, process)
        try:
            yield srv
        finally:
            srv.stop()
    return _redislet_proc


def redislet_db(proc_fixture_name, *, flush=True, **redis_kwargs):
    """A function-scoped fixture: redis.Redis on the server of `proc_fixture_name`
    (flushed before the test unless flush=False); redis_kwargs go to redis.Redis
    (protocol, decode_responses, db...)."""
    @pytest.fixture
    def _redislet_db(request):
        _redis(proc_fixture_name)
        srv = request.getfixturevalue(proc_fixture_name)
        client = _client_for(request, srv, proc_fixture_name, flush, redis_kwargs)
        try:
            yield client
        finally:
            client.close()
    return _redislet_db


def redislet_cluster_proc(scope="session", *, masters=3, replicas=1, **directives):
    """A fixture of a redislet.Cluster with this shape and directives."""
    @pytest.fixture(scope=scope)
    def _redislet_cluster_proc(request):
        cluster = _start_cluster(request, masters, replicas, directives)
        try:
            yield cluster
        finally:
            cluster.stop()
    return _redislet_cluster_proc


def redislet_cluster_db(proc_fixture_name, *, flush=True, **redis_kwargs):
    """A function-scoped fixture: redis.cluster.RedisCluster on the cluster of
    `proc_fixture_name`, flushed before the test unless flush=False."""
    @pytest.fixture
    def _redislet_cluster_db(request):
        _redis_cluster(proc_fixture_name)
        cluster = request.getfixturevalue(proc_fixture_name)
        client = _cluster_client_for(request, cluster, proc_fixture_name, flush, redis_kwargs)
        try:
            yield client
        finally:
            client.close()
    return _redislet_cluster_db
