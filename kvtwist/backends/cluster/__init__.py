# -*- test-case-name: kvtwist.test.test_cluster_backend -*-
"""
The redis-cluster backend: kvtwist as a stateless front end over Redis
Cluster (C{--backend redis-cluster://HOST:PORT[,HOST:PORT...]}).

    - L{slots}: hash slots, the slot table from C{CLUSTER SLOTS};
    - L{reader}: the nodes' RESP replies read into neutral replies;
    - L{specs}: where a command's keys are (the nodes' C{COMMAND});
    - L{connection}: one connection to a node, its requests of a turn in
      one write, replies in order;
    - L{router}: requests to the node of their slot, redirections,
      retries, timeouts, C{WAIT};
    - L{backend}: the L{kvtwist.interfaces.IBackend}, command by command;
      L{fanout} (every primary), L{session} (transactions, watches,
      blocking commands), L{info};
    - L{config}, L{probe}, L{service}: the options, the startup check,
      the service.

kvtwist carries this small routing client of its own because no
maintained Twisted cluster client exists, and redis-py's or coredis's
asyncio cluster clients would need the asyncio reactor and a bridge per
command, and lose per-connection pipelining (their newest releases also
need Python 3.10 while kvtwist runs on PyPy 3.9).  The storage,
replication, failover and sharding are all Redis's.
"""
