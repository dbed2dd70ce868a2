"""
Fixtures for the end-to-end tests: real C{twistd -n kvstore} processes on
loopback ports the kernel picks (port 0), each with its own data directory,
log and pid file in the test's C{tmp_path} (see L{tests.harness}).

    - C{server}: a started server with the default options.
    - C{makeServer}: a factory, C{makeServer(["--fsync", "always"])}, for
      servers with other options (or several servers in one test); pass
      C{start=False} to get one not yet started.

Every server a test made is killed at teardown; when the test failed, the
tail of each server's log is printed (pytest shows it with the failure).
"""

import signal

import pytest

from tests.harness import KVServer

# A shell starts a background job (`./run-tests &`, `nohup ... &`) with
# SIGINT ignored, and the servers started here would inherit that: Twisted
# then leaves Ctrl+C alone, and the tests of what it does fail.  Handled
# here, as in a terminal, it is back to the default in every server.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """
    Remember each phase's report on the item, so fixtures can tell at
    teardown whether the test failed.
    """
    outcome = yield
    report = outcome.get_result()
    setattr(item, "_report_" + report.when, report)


@pytest.fixture
def makeServer(tmp_path, request):
    """
    A factory of started L{KVServer}s, all killed at teardown.
    """
    made = []

    def make(extraArgs=(), start=True, name=None):
        workdir = tmp_path / (name or "server%d" % (len(made),))
        server = KVServer(workdir)
        made.append(server)
        if start:
            server.start(extraArgs)
        return server

    yield make
    report = getattr(request.node, "_report_call", None)
    for server in made:
        if report is not None and report.failed:
            print(server.diagnostics())
        server.cleanup()


@pytest.fixture
def server(makeServer):
    """
    A started L{KVServer} with the default options.
    """
    return makeServer()


@pytest.fixture(scope="module")
def sharedServer(tmp_path_factory):
    """
    One started L{KVServer} shared by a whole test module, for the many
    short tests that only need a fresh store (they FLUSHALL first); killed
    at the end of the module.
    """
    server = KVServer(tmp_path_factory.mktemp("shared"))
    server.start()
    yield server
    server.cleanup()
