# -*- test-case-name: benchmarks.test.test_load -*-
"""
Load generators: the key loader (pipelined C{MSET}), the closed-loop text
clients (asyncio, in worker processes) and the PING probe (a thread).
Nothing here imports Twisted: the load must not share the server's
machinery.
"""

import asyncio
import multiprocessing
import socket
import threading
import time
from typing import Dict, List, Optional

from benchmarks.resp import ReplyError, RespClient, encodeCommand


def keyName(i: int, width: int = 6) -> bytes:
    """
    The name of the C{i}th key the loader writes: C{key:000042}.
    """
    return b"key:%0*d" % (width, i)


def keyWidth(count: int) -> int:
    """
    The digits the loader's key names use for C{count} keys (at least 6).
    """
    return max(6, len(str(max(count - 1, 0))))


def loadKeys(port: int, count: int, value: bytes = b"xxx",
             batch: int = 1000, window: int = 8) -> float:
    """
    Write C{count} keys C{key:000000}... with C{MSET} batches, pipelined.

    @return: the seconds it took.
    """
    width = keyWidth(count)
    started = time.perf_counter()
    with RespClient(port, timeout=300) as client:
        inFlight = 0
        for start in range(0, count, batch):
            args = ["MSET"]
            for i in range(start, min(start + batch, count)):
                args.append(keyName(i, width))
                args.append(value)
            client.sock.sendall(encodeCommand(*args))
            inFlight += 1
            if inFlight >= window:
                reply = client.readReply()
                inFlight -= 1
                if isinstance(reply, ReplyError):
                    raise reply
        while inFlight:
            reply = client.readReply()
            inFlight -= 1
            if isinstance(reply, ReplyError):
                raise reply
    return time.perf_counter() - started


#: Reply lines per text request: kvtwist answers each line with one line;
#: Redis (its inline protocol) answers C{+OK}, and a bulk string in two.
KVTWIST_TEXT_REPLIES = {"SET": 1, "GET": 1}
REDIS_TEXT_REPLIES = {"SET": 1, "GET": 2}


class _TextClient(asyncio.Protocol):
    """
    One closed-loop text client: C{SET k v}, then C{GET k}, one request in
    flight, until the deadline.
    """

    def __init__(self, index: int, replyLines: Dict[str, int],
                 deadline: float, counts: List[int],
                 done: "asyncio.Future[None]"):
        key = b"text:%d" % (index,)
        self.requests = [(b"SET %s v%d\r\n" % (key, index),
                          replyLines["SET"]),
                         (b"GET %s\r\n" % (key,), replyLines["GET"])]
        self.deadline = deadline
        self.counts = counts
        self.done = done
        self.next = 0
        self.waiting = 0
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._send()

    def _send(self):
        data, self.waiting = self.requests[self.next]
        self.next ^= 1
        self.transport.write(data)

    def data_received(self, data):
        self.waiting -= data.count(b"\n")
        if self.waiting > 0:
            return
        self.counts[0] += 1
        if time.monotonic() < self.deadline:
            self._send()
        else:
            self.transport.close()

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(None)


async def _textLoad(port: int, first: int, clients: int, deadline: float,
                    replyLines: Dict[str, int]) -> int:
    loop = asyncio.get_running_loop()
    counts = [0]
    dones = []
    for i in range(first, first + clients):
        done = loop.create_future()
        dones.append(done)
        await loop.create_connection(
            lambda i=i, done=done: _TextClient(i, replyLines, deadline,
                                               counts, done),
            "127.0.0.1", port)
    await asyncio.wait_for(asyncio.gather(*dones),
                           deadline - time.monotonic() + 60)
    return counts[0]


def _textWorker(port, first, clients, deadline, replyLines, results):
    try:
        results.put(asyncio.run(_textLoad(port, first, clients, deadline,
                                          replyLines)))
    except BaseException as e:
        results.put(e)


def textLoad(port: int, replyLines: Dict[str, int], clients: int,
             seconds: float, processes: int = 1) -> float:
    """
    A closed-loop load of text-protocol C{SET k v} / C{GET k} lines from
    C{clients} connections, one request in flight each, for C{seconds},
    shared among C{processes} load-generating processes (a Python client
    is slower than Redis: one process would measure itself).

    @param replyLines: how many lines the server answers each request
        with (L{KVTWIST_TEXT_REPLIES}, L{REDIS_TEXT_REPLIES}).
    @return: requests per second.
    """
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    started = time.monotonic()
    deadline = started + seconds
    workers = []
    first = 0
    for i in range(processes):
        share = clients // processes + (1 if i < clients % processes else 0)
        worker = context.Process(
            target=_textWorker,
            args=(port, first, share, deadline, replyLines, results))
        worker.start()
        workers.append(worker)
        first += share
    total = 0
    try:
        for _ in workers:
            result = results.get(timeout=seconds + 120)
            if isinstance(result, BaseException):
                raise result
            total += result
    finally:
        for worker in workers:
            worker.join(5)
            if worker.is_alive():
                worker.kill()
    return total / (time.monotonic() - started)


class PingProbe(threading.Thread):
    """
    A thread sending PING on one connection, one at a time, recording the
    worst round trip until stopped.
    """

    def __init__(self, port: int):
        threading.Thread.__init__(self, daemon=True)
        self.port = port
        self.stopping = threading.Event()
        self.worst = 0.0
        self.count = 0
        self.error: Optional[BaseException] = None

    def run(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=120) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                ping = encodeCommand("PING")
                while not self.stopping.is_set():
                    began = time.perf_counter()
                    sock.sendall(ping)
                    buf = b""
                    while not buf.endswith(b"\r\n"):
                        data = sock.recv(64)
                        if not data:
                            raise ConnectionError("closed")
                        buf += data
                    took = time.perf_counter() - began
                    self.count += 1
                    if took > self.worst:
                        self.worst = took
        except BaseException as e:
            self.error = e
