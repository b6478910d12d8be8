# the extension types the annotations of the hot handlers name (compiled build)
from redislet.client cimport Client
from redislet.db cimport Database
from redislet.server cimport RedisServer
from redislet.types.zset cimport ZSet
