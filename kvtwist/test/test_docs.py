"""
Tests that the documentation in C{docs/} keeps up with the code: every
option of C{twistd kvstore} is in C{docs/operations.md}'s table, and the
links between the documents lead somewhere.

They read the files beside the package, so they skip for an installed copy.
"""

import os
import re
from typing import Dict

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from kvtwist import tap

#: The repository, if this is a checkout.
ROOT = os.path.normpath(os.path.join(os.path.dirname(tap.__file__),
                                     os.pardir))


def readDoc(relative: str) -> str:
    """
    The text of the file at C{relative} in the repository.

    @raise SkipTest: if it is not there (an installed copy).
    """
    path = os.path.join(ROOT, relative)
    if not os.path.exists(path):
        raise SkipTest("no %s beside the package (an installed copy)"
                       % (relative,))
    with open(path, encoding="utf-8") as f:
        return f.read()


def anchors(markdown: str) -> set:
    """
    The anchors GitHub makes for the headings of C{markdown}: lower case,
    punctuation other than C{-} and C{_} dropped, spaces made C{-}.
    """
    found = set()
    for heading in re.findall(r"(?m)^#+ (.*)$", markdown):
        anchor = re.sub(r"[^\w\- ]", "", heading.strip().lower())
        found.add(anchor.replace(" ", "-"))
    return found


class OptionsDocumentedTests(SynchronousTestCase):
    """
    C{docs/operations.md} documents every option.
    """

    def test_everyOption(self):
        """
        Each long option L{tap.Options} accepts appears in the options
        table of C{docs/operations.md}, as a C{`--name} cell.
        """
        text = readDoc(os.path.join("docs", "operations.md"))
        start = text.index("## Options")
        table = text[start:text.index("\n## ", start + 1)]
        missing = [name.rstrip("=") for name in tap.Options().longOpt
                   if "`--%s" % (name.rstrip("="),) not in table]
        self.assertEqual(missing, [], "options not in docs/operations.md")


class LayoutDocumentedTests(SynchronousTestCase):
    """
    C{docs/development.md}'s layout names every part of the package.
    """

    def test_everyModule(self):
        """
        Each module and package at the top of C{kvtwist/} (but the tests
        and C{__init__}) is named in the layout, as C{name.py} or
        C{name/}.
        """
        text = readDoc(os.path.join("docs", "development.md"))
        package = os.path.join(ROOT, "kvtwist")
        missing = []
        for name in sorted(os.listdir(package)):
            path = os.path.join(package, name)
            if os.path.isdir(path):
                if (name != "test" and os.path.exists(
                        os.path.join(path, "__init__.py"))
                        and name + "/" not in text):
                    missing.append(name + "/")
            elif (name.endswith((".py", ".c")) and name != "__init__.py"
                  and name not in text):
                missing.append(name)
        self.assertEqual(missing, [], "not in docs/development.md")


class LinkTests(SynchronousTestCase):
    """
    The relative links of C{README.md} and C{docs/*.md} lead to files that
    exist, and to headings that exist in them.
    """

    def documents(self) -> Dict[str, str]:
        """
        The documents, by path relative to the repository.
        """
        docs = {"README.md": readDoc("README.md")}
        for name in sorted(os.listdir(os.path.join(ROOT, "docs"))):
            if name.endswith(".md"):
                path = os.path.join("docs", name)
                docs[path] = readDoc(path)
        return docs

    def test_links(self):
        """
        Every link that is not to another site names a file of the
        repository and, after C{#}, one of that file's headings.
        """
        broken = []
        for path, text in self.documents().items():
            for target in re.findall(r"\]\(([^)\s]+)\)", text):
                if re.match(r"[a-z]+:", target):
                    continue
                name, _, anchor = target.partition("#")
                resolved = os.path.normpath(os.path.join(
                    os.path.dirname(path), name)) if name else path
                full = os.path.join(ROOT, resolved)
                if not os.path.exists(full):
                    broken.append("%s: %s" % (path, target))
                    continue
                if anchor and resolved.endswith(".md"):
                    if anchor not in anchors(readDoc(resolved)):
                        broken.append("%s: %s" % (path, target))
        self.assertEqual(broken, [])
