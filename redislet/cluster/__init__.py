"""Cluster mode (cluster-enabled yes): Redis 7.0.15's cluster, interoperable with real
redis-server nodes. Nothing here is imported by a standalone server."""
