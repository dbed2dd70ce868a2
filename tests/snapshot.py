"""
The whole data of a server as a redis-py client reads it, every database,
for end-to-end tests that compare a server's data before and after a
restart (or with another server's).
"""

from typing import Dict, Tuple

#: How each type's value is read with redis-py: TYPE's name -> function of
#: (client, key).  Types this table doesn't know are read as their TYPE.
READERS = {
    b"string": lambda r, k: r.get(k),
    b"list": lambda r, k: tuple(r.lrange(k, 0, -1)),
    b"hash": lambda r, k: tuple(sorted(r.hgetall(k).items())),
    b"set": lambda r, k: tuple(sorted(r.smembers(k))),
    b"zset": lambda r, k: tuple(r.zrange(k, 0, -1, withscores=True)),
}


def _name(value) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def readAll(client, databases: int = 16
            ) -> Dict[Tuple[int, bytes], Tuple[bytes, object, int]]:
    """
    Every key of every database: C{(db, key) -> (type, value,
    expiry)}, the expiry as C{PEXPIRETIME} gives it (absolute, so that two
    reads at different times compare equal).  C{client} is a redis-py
    client (any protocol); it is left in database 0.
    """
    out = {}
    try:
        for db in range(databases):
            client.execute_command("SELECT", db)
            for key in client.scan_iter(count=1000):
                kind = _name(client.type(key))
                reader = READERS.get(kind)
                value = reader(client, key) if reader else kind
                out[(db, key)] = (kind, value,
                                  client.execute_command("PEXPIRETIME",
                                                         key))
    finally:
        client.execute_command("SELECT", 0)
    return out
