"""Registration points for command families (imported before any server exists).

    from redislet import hooks
    hooks.server_init.append(lambda srv: srv.cron_hooks.append(my_cron))
"""
server_init = []   # callables(server) run at the end of RedisServer.__init__
