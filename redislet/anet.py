"""Outgoing TCP connections as anet.c makes them."""


async def best_effort_bind_connect(loop, factory, host, port, source_addr):
    """anetTcpNonBlockBestEffortBindConnect: connect from bind-source-addr when it is set;
    if that fails (the address cannot be bound, another family...), connect again without
    binding."""
    if source_addr:
        try:
            return await loop.create_connection(factory, host, port,
                                                local_addr=(source_addr, 0))
        except OSError:
            pass
    return await loop.create_connection(factory, host, port)
