"""
Tests for the files in C{contrib/} that run kvtwist for you: the systemd
unit and the container recipe give options that C{twistd kvstore} accepts.

They read the files beside the package, so they skip for an installed copy
(C{contrib/} is not installed).
"""

import json
import os
import shlex
from typing import List, Tuple

from twisted.scripts.twistd import ServerOptions
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from kvtwist import tap

#: The repository's C{contrib/} folder, if this is a checkout.
CONTRIB = os.path.join(os.path.dirname(tap.__file__), os.pardir, "contrib")


def readContrib(name: str) -> str:
    """
    The text of C{contrib/name}.

    @raise SkipTest: if there is no C{contrib/} beside the package.
    """
    path = os.path.join(CONTRIB, name)
    if not os.path.exists(path):
        raise SkipTest("no contrib/%s beside the package (an installed "
                       "copy)" % (name,))
    with open(path, encoding="utf-8") as f:
        return f.read()


def unitDirectives(text: str) -> List[Tuple[str, str, str]]:
    """
    The directives of a systemd unit file, as C{(section, key, value)}:
    comments dropped, a line ending in a backslash continued on the next,
    as systemd reads them.
    """
    directives = []
    section = ""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if pending and line and line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        directives.append((section, key.strip(), value.strip()))
    return directives


def splitAtPlugin(argv: List[str]) -> Tuple[List[str], List[str]]:
    """
    Split a C{twistd} command line into twistd's own options and the
    C{kvstore} plugin's.
    """
    index = argv.index("kvstore")
    return argv[1:index], argv[index + 1:]


class UnitFileTests(SynchronousTestCase):
    """
    C{contrib/kvtwist.service}, the systemd unit.
    """

    def setUp(self):
        self.directives = unitDirectives(readContrib("kvtwist.service"))

    def value(self, section: str, key: str) -> str:
        """
        The value of the one C{key} in C{section}.
        """
        values = [v for s, k, v in self.directives
                  if (s, k) == (section, key)]
        self.assertEqual(len(values), 1, "%s= in [%s]" % (key, section))
        return values[0]

    def test_directivesParse(self):
        """
        The continuation lines are read as systemd reads them: every
        directive has a key, in a section.
        """
        self.assertIn(("Unit", "Description", "kvtwist key-value server"),
                      self.directives)
        for section, key, _ in self.directives:
            self.assertIn(section, ("Unit", "Service", "Install"))
            self.assertTrue(key.isalnum(), key)

    def test_execStartOptions(self):
        """
        C{ExecStart} runs twistd in the foreground without a pid file, and
        its C{kvstore} options are accepted by L{tap.Options}.
        """
        argv = shlex.split(self.value("Service", "ExecStart"))
        self.assertTrue(argv[0].endswith("/twistd"), argv[0])
        twistdArgs, kvArgs = splitAtPlugin(argv)
        twistd = ServerOptions()
        twistd.parseOptions(twistdArgs)
        self.assertTrue(twistd["nodaemon"])
        self.assertEqual(twistd["pidfile"], "")
        options = tap.Options()
        options.parseOptions(kvArgs)
        self.assertEqual(options["data-dir"], "/var/lib/kvtwist")
        self.assertEqual(options["port"], "tcp:3490:interface=127.0.0.1")

    def test_dataDirIsTheStateDirectory(self):
        """
        The data directory is the one systemd makes for the service
        (C{StateDirectory}), and the service runs in it.
        """
        state = self.value("Service", "StateDirectory")
        self.assertEqual(self.value("Service", "WorkingDirectory"),
                         "/var/lib/" + state)
        kvArgs = splitAtPlugin(shlex.split(
            self.value("Service", "ExecStart")))[1]
        self.assertEqual(kvArgs[kvArgs.index("--data-dir") + 1],
                         "/var/lib/" + state)


class ContainerfileTests(SynchronousTestCase):
    """
    C{contrib/Containerfile}, the container recipe.
    """

    def setUp(self):
        self.text = readContrib("Containerfile")

    def instruction(self, name: str) -> List[str]:
        """
        The JSON (exec) form of the last instruction C{name}.
        """
        lines = [line for line in self.text.splitlines()
                 if line.startswith(name + " ")]
        self.assertTrue(lines, name)
        return json.loads(lines[-1][len(name) + 1:])

    def test_commandOptions(self):
        """
        C{ENTRYPOINT} followed by C{CMD} is a twistd command line whose
        C{kvstore} options L{tap.Options} accepts (with the password file
        the secret provides).
        """
        argv = self.instruction("ENTRYPOINT") + self.instruction("CMD")
        twistdArgs, kvArgs = splitAtPlugin(argv)
        twistd = ServerOptions()
        twistd.parseOptions(twistdArgs)
        self.assertTrue(twistd["nodaemon"])
        secret = self.mktemp()
        with open(secret, "w") as f:
            f.write("a long password\n")
        index = kvArgs.index("--password-file")
        self.assertEqual(kvArgs[index + 1], "/run/secrets/kvtwist_password")
        kvArgs[index + 1] = secret
        options = tap.Options()
        options.parseOptions(kvArgs)
        self.assertEqual(options["data-dir"], "/data")
        self.assertEqual(options["password"], b"a long password")
        self.assertIn("VOLUME /data", self.text.splitlines())
