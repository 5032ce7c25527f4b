"""Assertions on runs of the `datapool` CLI, shared by the end-to-end tests.

Mix `CliAssertions` into a unittest.TestCase that defines
`run_cli(*args, **kw)` (returns a subprocess.CompletedProcess) and
`explain(proc)` (text for failure messages)."""

import json
import os
import re
import select

# The CLI's error line: `datapool: CODE_NAME: message`.
ERROR_LINE_RE = re.compile(r"^datapool: ([A-Z_]+): \S", re.MULTILINE)

# The CLI's exit codes (`datapool --help`).
EXIT_OK = 0
EXIT_USAGE = 1        # bad command line; stderr says which --help to read
EXIT_SERVER = 2       # the server refused or failed the call, or not SERVING
EXIT_LOCAL_FILE = 3   # a local file could not be read or written
EXIT_CANCELLED = 130  # Ctrl-C


class CliAssertions:

    def cli_ok(self, *args, **kw):
        proc = self.run_cli(*args, **kw)
        self.assertEqual(proc.returncode, 0, self.explain(proc))
        return proc

    def cli_json(self, *args, **kw):
        """Runs the CLI (the caller passes --json) and returns the one JSON
        object it printed."""
        proc = self.cli_ok(*args, **kw)
        try:
            value = json.loads(proc.stdout)
        except ValueError as e:
            self.fail("stdout is not one JSON value (%s)\n%s"
                      % (e, self.explain(proc)))
        self.assertIsInstance(value, dict, self.explain(proc))
        return value

    def cli_error(self, code_name, *args, **kw):
        """Expects exit 2 (the server refused) and `datapool: CODE_NAME:
        message` on stderr."""
        proc = self.run_cli(*args, **kw)
        self.assertEqual(proc.returncode, EXIT_SERVER, self.explain(proc))
        m = ERROR_LINE_RE.search(proc.stderr)
        self.assertTrue(m, "no 'datapool: CODE: message' line on stderr\n"
                        + self.explain(proc))
        self.assertEqual(m.group(1), code_name, self.explain(proc))
        return proc

    def cli_usage_error(self, *args, **kw):
        """Expects exit 1, a message and where to read the usage."""
        proc = self.run_cli(*args, **kw)
        self.assertEqual(proc.returncode, EXIT_USAGE, self.explain(proc))
        self.assertRegex(proc.stderr, r"^datapool: \S", self.explain(proc))
        self.assertIsNone(ERROR_LINE_RE.search(proc.stderr),
                          "a usage error looks like a server error\n"
                          + self.explain(proc))
        self.assertEqual(proc.stdout, "", self.explain(proc))
        return proc

    def cli_local_error(self, needle, *args, **kw):
        """Expects exit 3 (a local file) and `needle` (the file) on stderr."""
        proc = self.run_cli(*args, **kw)
        self.assertEqual(proc.returncode, EXIT_LOCAL_FILE, self.explain(proc))
        self.assertIn(needle, proc.stderr, self.explain(proc))
        self.assertIsNone(ERROR_LINE_RE.search(proc.stderr),
                          "a local error looks like a server error\n"
                          + self.explain(proc))
        self.assertEqual(proc.stdout, "", self.explain(proc))
        return proc

    def read_terminal(self, master, proc, needle=None, timeout=90):
        """What the CLI `proc` wrote to the pseudo-terminal `master`: up to
        `needle`, or (None) until the CLI closes it. Fails the test when
        nothing comes for `timeout` seconds."""
        out = b""
        while needle is None or needle.encode() not in out:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                proc.kill()
                self.fail("no %r on the terminal: %r" % (needle, out))
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the CLI closed the terminal (EIO)
                break
            if not chunk:
                break
            out += chunk
        return out.decode(errors="replace")
