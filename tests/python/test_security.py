"""TLS, mutual TLS and bearer tokens against the real server binary and CLI,
with a CA and certificates made by `openssl` in the test.

Run: /usr/bin/python3 -m unittest tests/python/test_security.py
"""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import grpc  # noqa: E402

from cli_testlib import CliAssertions  # noqa: E402
from datapool_testlib import load_stubs  # noqa: E402
from pki import make_pki  # noqa: E402
from server_harness import (RunningServer, cli_binary, health_check,  # noqa: E402
                            server_binary)

TIMEOUT_S = 20
TOKEN = "tok-5d1e0c9a-only-in-the-file"


def read(path):
    with open(path, "rb") as f:
        return f.read()


class SecurityTest(CliAssertions, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        server_binary()
        cls.cli_bin = cli_binary()
        cls.pb2, cls.rpc = load_stubs()
        tmp = tempfile.TemporaryDirectory(prefix="datapool-sec-")
        cls.addClassCleanup(tmp.cleanup)
        cls.dir = tmp.name
        cls.shared = os.path.join(cls.dir, "shared")
        cls.input = os.path.join(cls.dir, "input")
        os.mkdir(cls.shared)
        os.mkdir(cls.input)
        cls.pki = os.path.join(cls.dir, "pki")
        os.mkdir(cls.pki)
        make_pki(cls.pki)
        cls.tokens = os.path.join(cls.dir, "tokens")
        with open(cls.tokens, "w") as f:
            f.write("# datapool tokens\n%s\nsecond-token\n" % TOKEN)

    def pem(self, name):
        return os.path.join(self.pki, name)

    # CliAssertions hooks.
    def run_cli(self, *args, env_extra=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("DATAPOOL_")}
        env.update(env_extra or {})
        return subprocess.run([self.cli_bin, "--server", self.target,
                               "--timeout", str(TIMEOUT_S)] + list(args),
                              env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S * 3)

    def explain(self, proc):
        return "args: %s\nexit %s\nstdout:\n%s\nstderr:\n%s" % (
            proc.args, proc.returncode, proc.stdout, proc.stderr)

    def list_pools(self, channel, metadata=None):
        stub = self.rpc.DatapoolStub(channel)
        return stub.ListPools(self.pb2.ListPoolsRequest(), timeout=TIMEOUT_S,
                              metadata=metadata)

    def assertRefused(self, code, call):
        with self.assertRaises(grpc.RpcError) as refused:
            call()
        self.assertEqual(refused.exception.code(), code,
                         refused.exception.details())
        return refused.exception

    def test_tls_and_mutual_tls(self):
        tls = ["--model", "none", "--tls-cert", self.pem("server.pem"),
               "--tls-key", self.pem("server.key")]
        with RunningServer(self.shared, self.input, tls) as server:
            self.target = "localhost:%d" % server.port
            good = grpc.ssl_channel_credentials(read(self.pem("ca.pem")))
            self.list_pools(grpc.secure_channel(self.target, good))
            # Plaintext, and a client trusting another CA, cannot talk.
            self.assertRefused(grpc.StatusCode.UNAVAILABLE, lambda: self.list_pools(
                grpc.insecure_channel(self.target)))
            other = grpc.ssl_channel_credentials(read(self.pem("other-ca.pem")))
            self.assertRefused(grpc.StatusCode.UNAVAILABLE, lambda: self.list_pools(
                grpc.secure_channel(self.target, other)))
            self.cli_ok("--tls-ca", self.pem("ca.pem"), "pools", "list")
            self.cli_ok("pools", "list",
                        env_extra={"DATAPOOL_TLS_CA": self.pem("ca.pem")})
            self.cli_error("UNAVAILABLE", "pools", "list")

        mutual = tls + ["--tls-client-ca", self.pem("ca.pem")]
        with RunningServer(self.shared, self.input, mutual) as server:
            self.target = "localhost:%d" % server.port
            with_cert = grpc.ssl_channel_credentials(
                read(self.pem("ca.pem")), read(self.pem("client.key")),
                read(self.pem("client.pem")))
            self.list_pools(grpc.secure_channel(self.target, with_cert))
            without = grpc.ssl_channel_credentials(read(self.pem("ca.pem")))
            self.assertRefused(grpc.StatusCode.UNAVAILABLE, lambda: self.list_pools(
                grpc.secure_channel(self.target, without)))
            self.cli_ok("--tls-ca", self.pem("ca.pem"), "--tls-cert",
                        self.pem("client.pem"), "--tls-key",
                        self.pem("client.key"), "pools", "list")
            self.cli_error("UNAVAILABLE", "--tls-ca", self.pem("ca.pem"),
                           "pools", "list")

    def test_bearer_tokens(self):
        with RunningServer(self.shared, self.input,
                           ["--model", "none", "--auth-token-file",
                            self.tokens]) as server:
            self.target = server.address
            channel = grpc.insecure_channel(server.address)
            missing = self.assertRefused(grpc.StatusCode.UNAUTHENTICATED,
                                         lambda: self.list_pools(channel))
            self.assertIn("Bearer", missing.details())
            wrong = self.assertRefused(
                grpc.StatusCode.UNAUTHENTICATED, lambda: self.list_pools(
                    channel, [("authorization", "Bearer " + TOKEN[:-1])]))
            self.assertNotIn(TOKEN[:-1], wrong.details())
            self.list_pools(channel, [("authorization", "Bearer " + TOKEN)])
            self.list_pools(channel, [("authorization", "Bearer second-token")])
            # Health stays open for probes.
            self.assertEqual(health_check(channel), 1)  # SERVING

            self.cli_ok("--token", TOKEN, "pools", "list")
            self.cli_ok("pools", "list", env_extra={"DATAPOOL_TOKEN": TOKEN})
            self.cli_error("UNAUTHENTICATED", "pools", "list")
            self.cli_error("UNAUTHENTICATED", "--token", "nope", "pools",
                           "list")
            self.cli_ok("health")
        # The token never reaches the server's output.
        self.assertNotIn(TOKEN, "\n".join(server.stdout_lines()))
        self.assertNotIn(TOKEN, server.stderr_text())

    def test_bad_security_settings_stop_the_start(self):
        common = [server_binary(), "--shared-dir", self.shared, "--listen",
                  "127.0.0.1:0", "--model", "none"]
        for extra, needle in [
                (["--tls-cert", self.pem("server.pem")], "--tls-key"),
                (["--tls-client-ca", self.pem("ca.pem")], "needs TLS"),
                (["--tls-cert", self.pem("server.pem"), "--tls-key",
                  self.pem("missing.key")], "missing.key"),
                (["--auth-token-file", self.pem("missing")], "--auth-token-file")]:
            proc = subprocess.run(common + extra, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True,
                                  timeout=TIMEOUT_S)
            self.assertEqual(proc.returncode, 2, (extra, proc))
            self.assertIn(needle, proc.stderr, extra)
            self.assertNotIn("listening on", proc.stdout, extra)


if __name__ == "__main__":
    unittest.main()
