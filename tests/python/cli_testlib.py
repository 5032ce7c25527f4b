"""Assertions on runs of the `datapool` CLI, shared by the end-to-end tests.

Mix `CliAssertions` into a unittest.TestCase that defines
`run_cli(*args, **kw)` (returns a subprocess.CompletedProcess) and
`explain(proc)` (text for failure messages)."""

import json
import re

# The CLI's error line: `datapool: CODE_NAME: message`.
ERROR_LINE_RE = re.compile(r"^datapool: ([A-Z_]+): \S", re.MULTILINE)


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
        """Expects exit 1 and `datapool: CODE_NAME: message` on stderr."""
        proc = self.run_cli(*args, **kw)
        self.assertEqual(proc.returncode, 1, self.explain(proc))
        m = ERROR_LINE_RE.search(proc.stderr)
        self.assertTrue(m, "no 'datapool: CODE: message' line on stderr\n"
                        + self.explain(proc))
        self.assertEqual(m.group(1), code_name, self.explain(proc))
        return proc
