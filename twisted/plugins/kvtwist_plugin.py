"""
The C{twistd kvstore} plugin.  Only names L{kvtwist.tap}: nothing heavy is
imported while twistd scans its plugins.
"""

from twisted.application.service import ServiceMaker

kvstore = ServiceMaker(
    "kvtwist key-value server",
    "kvtwist.tap",
    "A durable key-value server speaking text, RESP, colon and JSON lines.",
    "kvstore",
)
