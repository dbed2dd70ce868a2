"""
kvtwist beside redis-server, in one run, from a checkout::

    python -m benchmarks                 # about 6 minutes
    python -m benchmarks --quick         # a smoke run, under a minute

Not part of the installed package: it uses kvtwist only as a user would,
through C{twistd kvstore} and the network, and measures it beside
C{redis-server} with C{redis-benchmark}.  One job per module:

  - L{benchmarks.run}: the command line and the run; prints the tables.
  - L{benchmarks.servers}: starting, finding and stopping the servers.
  - L{benchmarks.resp}: a small blocking RESP client.
  - L{benchmarks.redisbench}: driving C{redis-benchmark}, reading its output.
  - L{benchmarks.load}: load generators (text clients, PING probe, loader).
  - L{benchmarks.memory}: resident memory, warming up, settling.
  - L{benchmarks.throughput}, L{benchmarks.bigstore}, L{benchmarks.idle}:
    the scenarios.
  - L{benchmarks.profiling}: C{py-spy} during the throughput rounds.
  - L{benchmarks.report}: medians, ratios and the tables.
  - L{benchmarks.reference}: the calibration servers (minimal Twisted
    SET/GET servers).

This is a measurement tool, not a test: run it on a quiet machine, and read
the ratios, not the absolute numbers.
"""
