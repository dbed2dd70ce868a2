# -*- test-case-name: kvtwist.test.test_protocol -*-
"""
Where bytes become requests and replies become bytes.

    - L{framing}: the L{Framer}, bytes in, requests out, and the size caps
      on requests (L{Limits}), before and after authentication;
    - L{replyqueue}: the L{ReplyQueue}, replies in request order, however
      late some of them are ready;
    - L{writer}: the end-of-turn writer, each connection's replies of a
      reactor turn sent in one piece when it ends;
    - L{connection}: the L{KVProtocol} that joins them for one client.

What they need of the socket beneath the transport is in
L{kvtwist.transport}.
"""

from kvtwist.protocol.connection import KVProtocol
from kvtwist.protocol.framing import Framer, Limits
from kvtwist.protocol.replyqueue import ReplyQueue
from kvtwist.protocol.writer import EndOfTurn, TurnWriter

__all__ = ["KVProtocol", "Framer", "Limits", "ReplyQueue", "EndOfTurn",
           "TurnWriter"]
