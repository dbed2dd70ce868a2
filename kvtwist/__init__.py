"""
kvtwist: a key-value server built on Twisted.

One process, one reactor, one store; text, RESP, colon and JSON-lines
dialects on one port; durable on disk.  See the README.
"""

__version__ = "0.1.0"
