# the extension types the annotations of the replica's stream loop name (compiled build)
from redislet.client cimport Client
from redislet.server cimport RedisServer
from redislet.commands.table cimport Command
