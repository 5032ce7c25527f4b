"""Three real server processes on loopback sharing one folder, as a
StatefulSet's replicas: each pool has one owner (rendezvous hashing of its
name), any replica answers for any pool by forwarding to the owner (with
the caller's deadline and token; a wrong token never leaves the first
replica), ListPools and health aggregate, a scale change moves only the
pools whose owner changed, a killed owner's pools answer UNAVAILABLE
with a retry hint (never a wrong answer) until they move to a replica
that is up, and back when the owner returns, with every acknowledged
selection on disk once, a pool still locked by its previous
owner answers UNAVAILABLE until that one lets go, a forwarded call holds
no admission slot on the replica forwarding it, and replicas that disagree
on their number never forward a call twice.

Which replica owns a pool is read from the pool's lock file, which names
the pid of the process holding it.

Run: /usr/bin/python3 -m unittest tests/python/test_replicas.py
"""

import os
import re
import signal
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import debian_python  # noqa: E402

debian_python.reexec_if_needed(__name__, "grpc", "numpy")

import grpc  # noqa: E402
import numpy as np  # noqa: E402

from datapool_testlib import load_stubs, unit_rows  # noqa: E402
from pki import make_pki  # noqa: E402
from server_harness import (RunningServer, free_ports,  # noqa: E402
                            health_check, server_binary)

TIMEOUT_S = 60
TOKEN = "replica-test-token-0123456789"
POOLS = ["pool-%d" % i for i in range(12)]
SERVING, NOT_SERVING = 1, 2
METRICS_LINE = re.compile(r"metrics on (http://\S+/metrics)")


def wait_until(predicate, what, timeout=30.0):
    """Polls `predicate` until true; fails naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def all_threads_stopped(pid):
    """Whether every thread of process `pid` is stopped (state T)."""
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, task)) as f:
                # The state follows the command name's closing parenthesis.
                if f.read().rsplit(")", 1)[1].split()[0] != "T":
                    return False
        except FileNotFoundError:  # the thread ended meanwhile
            continue
    return True


class ReplicasTest(unittest.TestCase):

    def setUp(self):
        server_binary()
        self.pb2, self.rpc = load_stubs()
        tmp = tempfile.TemporaryDirectory(prefix="datapool-replicas-")
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.shared = os.path.join(tmp.name, "shared")
        self.input = os.path.join(tmp.name, "input")
        os.mkdir(self.shared)
        os.mkdir(self.input)
        self.tokens = os.path.join(tmp.name, "tokens")
        with open(self.tokens, "w") as f:
            f.write(TOKEN + "\n")
        self.rng = np.random.default_rng(7)
        self.servers = {}
        self.addCleanup(self.stop_all)

    # -- replicas ------------------------------------------------------------
    def start(self, index, ports, extra=()):
        peers = ",".join("127.0.0.1:%d" % p for p in ports)
        server = RunningServer(self.shared, self.input, [
            "--model", "none", "--listen", "127.0.0.1:%d" % ports[index],
            "--replicas", str(len(ports)), "--replica-index", str(index),
            "--peers", peers] + list(extra))
        server.__enter__()
        self.servers[index] = server
        return server

    def start_all(self, ports, extra=()):
        for i in range(len(ports)):
            self.start(i, ports, extra)

    def stop_all(self):
        for server in self.servers.values():
            server.stop()
        self.servers = {}

    def stub(self, index):
        channel = grpc.insecure_channel(self.servers[index].address)
        self.addCleanup(channel.close)
        return self.rpc.DatapoolStub(channel)

    def owner(self, pool):
        """The replica index whose process holds `pool`'s lock."""
        with open(os.path.join(self.shared, pool, "datapool.lock")) as f:
            text = f.read()
        for index, server in self.servers.items():
            if "pid %d" % server.proc.pid in text:
                return index
        self.fail("no running replica holds %s: %r" % (pool, text))

    # -- calls ---------------------------------------------------------------
    def request(self, pool, prefix, n=2):
        rows = unit_rows(self.rng.normal(size=(8, 6)))
        block = self.pb2.EmbeddingBlock(
            dimension=6, filenames=["%s-%d" % (prefix, i) for i in range(8)],
            values=rows.ravel().tolist())
        return self.pb2.SelectRequest(
            params=self.pb2.SelectionParams(pool=pool, n_samples_count=n),
            candidates=block)

    def select(self, index, pool, prefix, metadata=None, timeout=TIMEOUT_S):
        return self.stub(index).Select(self.request(pool, prefix),
                                       timeout=timeout, metadata=metadata)

    def pool_info(self, index, pool):
        return self.stub(index).GetPool(self.pb2.GetPoolRequest(pool=pool),
                                        timeout=TIMEOUT_S)

    def names(self, response):
        return [p.name for p in response.pools]

    # -- tests ---------------------------------------------------------------
    def test_any_replica_answers_for_any_pool(self):
        self.start_all(free_ports(3))
        for i, pool in enumerate(POOLS):
            self.assertEqual(self.select(i % 3, pool, pool).version, 1)
        owners = {pool: self.owner(pool) for pool in POOLS}
        self.assertEqual(set(owners.values()), {0, 1, 2}, owners)
        for pool in POOLS:
            infos = [self.pool_info(r, pool) for r in range(3)]
            self.assertEqual(infos[0].size, 2)
            self.assertEqual(infos[1], infos[0])
            self.assertEqual(infos[2], infos[0])
        # ListPools asks every replica: all pools, from any of them.
        for r in range(3):
            listed = self.stub(r).ListPools(self.pb2.ListPoolsRequest(),
                                            timeout=TIMEOUT_S)
            self.assertEqual(self.names(listed), sorted(POOLS))
        # A pool another replica owns, through each kind of call.
        pool = next(p for p in POOLS if owners[p] == 1)
        stub = self.stub(0)
        streamed = stub.SelectStream(iter([self.request(pool, "s")]),
                                     timeout=TIMEOUT_S)
        self.assertEqual(streamed.version, 2)
        replies = list(stub.SelectWithProgress(
            iter([self.request(pool, "w")]), timeout=TIMEOUT_S))
        self.assertTrue(replies[-1].HasField("result"))
        self.assertEqual(replies[-1].result.version, 3)
        found = stub.Search(iter([self.pb2.SearchRequest(
            pool=pool, k=1, queries=self.request(pool, "q").candidates)]),
            timeout=TIMEOUT_S)
        self.assertEqual(len(found.results), 8)
        history = [self.stub(r).ListHistory(
            self.pb2.ListHistoryRequest(pool=pool), timeout=TIMEOUT_S)
            for r in range(3)]
        self.assertTrue(history[0].versions)
        self.assertEqual(history[1], history[0])
        self.assertEqual(history[2], history[0])
        self.assertEqual(self.pool_info(2, pool).version, 3)
        # Merging: pools of one replica, through another; across replicas
        # refused as such (not NOT_FOUND).
        same = [p for p in POOLS if owners[p] == 2]
        stub.MergePools(self.pb2.MergePoolsRequest(
            target=same[0], sources=[same[1]]), timeout=TIMEOUT_S)
        self.assertEqual(self.pool_info(1, same[0]).size, 4)
        with self.assertRaises(grpc.RpcError) as across:
            stub.MergePools(self.pb2.MergePoolsRequest(
                target=same[0], sources=[pool]), timeout=TIMEOUT_S)
        self.assertEqual(across.exception.code(),
                         grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("merging across replicas is not supported",
                      across.exception.details())
        # Errors come back as the owner gave them.
        with self.assertRaises(grpc.RpcError) as missing:
            self.pool_info(0, "no-such-pool-%d" % owners[pool])
        self.assertEqual(missing.exception.code(), grpc.StatusCode.NOT_FOUND)
        stub.DeletePool(self.pb2.DeletePoolRequest(pool=pool),
                        timeout=TIMEOUT_S)
        for r in range(3):
            with self.assertRaises(grpc.RpcError) as gone:
                self.pool_info(r, pool)
            self.assertEqual(gone.exception.code(), grpc.StatusCode.NOT_FOUND)
        # Health: the replica itself, and which peers are up.
        with grpc.insecure_channel(self.servers[0].address) as channel:
            self.assertEqual(health_check(channel), SERVING)
            for r in range(3):
                wait_until(lambda r=r: health_check(
                    channel, "replica-%d" % r) == SERVING,
                    "replica-%d SERVING" % r)

    def test_token_checked_first_deadline_kept(self):
        self.start_all(free_ports(3), ["--auth-token-file", self.tokens])
        good = [("authorization", "Bearer " + TOKEN)]
        for pool in POOLS[:6]:
            self.select(0, pool, pool, metadata=good)
        owners = {pool: self.owner(pool) for pool in POOLS[:6]}
        pool = next(p for p in owners if owners[p] != 0)
        owner = owners[pool]
        # The right token goes along with the forwarded call.
        self.assertEqual(
            self.select(0, pool, "again", metadata=good).version, 2)
        # A wrong one is refused by the first replica: the owner never
        # hears of it (its log has no refused call).
        for metadata in ([("authorization", "Bearer wrong")], None):
            with self.assertRaises(grpc.RpcError) as refused:
                self.select(0, pool, "bad", metadata=metadata)
            self.assertEqual(refused.exception.code(),
                             grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("UNAUTHENTICATED", self.servers[0].stderr_text())
        self.assertNotIn("UNAUTHENTICATED",
                         self.servers[owner].stderr_text())
        # The caller's deadline: with the owner stopped (SIGSTOP), the call
        # ends at the caller's deadline; the owner, run again once that
        # deadline is clearly past, begins the expired call (gRPC would
        # count its time left from then) and must change nothing: the
        # forwarded call carries the deadline as a time. (At the very
        # boundary the outcome is unknown, as DEADLINE_EXCEEDED always is.)
        os.kill(self.servers[owner].proc.pid, signal.SIGSTOP)
        try:
            # kill() returns before every thread has stopped: a running one
            # could still take the call.
            wait_until(lambda: all_threads_stopped(
                self.servers[owner].proc.pid), "the owner stopped")
            sent = time.time()
            with self.assertRaises(grpc.RpcError) as late:
                self.select(0, pool, "late", metadata=good, timeout=2)
            self.assertEqual(late.exception.code(),
                             grpc.StatusCode.DEADLINE_EXCEEDED)
            # Waiting for the clock itself: the deadline half a second past.
            time.sleep(max(0.0, sent + 2.5 - time.time()))
        finally:
            os.kill(self.servers[owner].proc.pid, signal.SIGCONT)
        # The same, sent straight to the owner as a replica would forward
        # it, with the caller's deadline a second past.
        past = str(int(time.time() * 1000) - 1000)
        with self.assertRaises(grpc.RpcError) as expired:
            self.select(owner, pool, "expired", metadata=good + [
                ("x-datapool-forwarded", "0"),
                ("x-datapool-deadline-unix-ms", past)])
        self.assertEqual(expired.exception.code(),
                         grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertIn("before this replica began the forwarded call",
                      expired.exception.details())
        after = self.select(owner, pool, "after", metadata=good)
        self.assertEqual(after.version, 3)
        info = self.stub(owner).GetPool(self.pb2.GetPoolRequest(pool=pool),
                                        timeout=TIMEOUT_S, metadata=good)
        self.assertEqual(info.size, 6)

    def test_scale_three_two_three_moves_only_changed_owners(self):
        three = free_ports(3)
        self.start_all(three)
        for i, pool in enumerate(POOLS):
            self.select(i % 3, pool, pool)
        before = {pool: self.owner(pool) for pool in POOLS}
        self.stop_all()
        # Two replicas: replica 2's pools move; the others stay.
        self.start_all(three[:2])
        two = {pool: self.owner(pool) for pool in POOLS}
        moved = {p for p in POOLS if two[p] != before[p]}
        self.assertEqual(moved, {p for p in POOLS if before[p] == 2})
        self.assertTrue(moved)
        self.assertTrue(all(two[p] in (0, 1) for p in POOLS))
        for i, pool in enumerate(POOLS):
            self.assertEqual(self.select(i % 2, pool, pool + "b").version, 2)
        self.assertEqual(
            self.names(self.stub(1).ListPools(self.pb2.ListPoolsRequest(),
                                              timeout=TIMEOUT_S)),
            sorted(POOLS))
        self.stop_all()
        # Three again: exactly the same pools move back.
        self.start_all(three)
        self.assertEqual({pool: self.owner(pool) for pool in POOLS}, before)
        for pool in POOLS:
            info = self.pool_info(2, pool)
            self.assertEqual((info.version, info.size), (2, 4), pool)

    def test_owner_killed_during_commits(self):
        """kill -9 of a pool's owner while commits run through another
        replica: the calls get UNAVAILABLE with a retry hint for a moment,
        then the pool moves to a replica that is up (after
        --peer-down-after-s) and the commits go on there; when the owner is
        back the pool moves back to it. Every acknowledged selection is on
        disk, once, and the versions only rise."""
        ports = free_ports(3)
        fast = ["--peer-down-after-s", "1"]
        self.start_all(ports, fast)
        for pool in POOLS[:6]:
            self.select(0, pool, pool)
        owners = {pool: self.owner(pool) for pool in POOLS[:6]}
        pool = next(p for p in owners if owners[p] != 0)
        victim = owners[pool]
        acknowledged = []  # (version, filenames picked)
        codes = []
        hints = []
        enough = threading.Event()
        stop = threading.Event()

        def commits():
            stub = self.stub(0)
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    r = stub.Select(self.request(pool, "c%d" % n),
                                    timeout=TIMEOUT_S)
                except grpc.RpcError as e:
                    codes.append(e.code())
                    hints.append(dict(e.trailing_metadata() or ()).get(
                        "grpc-retry-pushback-ms"))
                    time.sleep(0.05)  # a client's pause before a retry
                    continue
                acknowledged.append(
                    (r.version, [s.filename for s in r.selected]))
                if len(acknowledged) >= 5:
                    enough.set()

        def held_by(index):
            with open(os.path.join(self.shared, pool, "datapool.lock")) as f:
                return "pid %d" % self.servers[index].proc.pid in f.read()

        worker = threading.Thread(target=commits)
        worker.start()
        try:
            self.assertTrue(enough.wait(TIMEOUT_S))
            self.servers[victim].crash()
            at_kill = len(acknowledged)
            # The pool moves to a replica that is up; commits go on there
            # while its owner is still dead.
            wait_until(lambda: len(acknowledged) >= at_kill + 3,
                       "commits on the pool's new owner")
            self.assertNotEqual(self.owner(pool), victim)
            with grpc.insecure_channel(self.servers[0].address) as channel:
                self.assertEqual(
                    health_check(channel, "replica-%d" % victim),
                    NOT_SERVING)
            # Every pool is listed, the dead replica's by the others.
            self.assertEqual(
                self.names(self.stub(0).ListPools(self.pb2.ListPoolsRequest(),
                                                  timeout=TIMEOUT_S)),
                POOLS[:6])
            # Only the dead replica's pools moved (listing them took each
            # over on its new owner).
            for p in POOLS[:6]:
                if owners[p] == victim:
                    self.assertNotEqual(self.owner(p), victim, p)
                else:
                    self.assertEqual(self.owner(p), owners[p], p)
            # Back (a StatefulSet restarts the pod): the pool moves back.
            self.start(victim, ports, fast)
            before_restart = len(acknowledged)
            wait_until(lambda: held_by(victim), "the pool back on its owner")
            wait_until(lambda: len(acknowledged) >= before_restart + 3,
                       "commits after the restart")
        finally:
            stop.set()
            worker.join()
        self.assertTrue(codes)
        self.assertEqual(set(codes), {grpc.StatusCode.UNAVAILABLE})
        self.assertTrue(all(h is not None for h in hints), hints)
        self.assertEqual(self.owner(pool), victim)
        # Every acknowledged selection is on disk, once; versions rise.
        versions = [v for v, _ in acknowledged]
        self.assertEqual(versions, sorted(set(versions)))
        with open(os.path.join(self.shared, pool,
                               "datapool_latest.csv")) as f:
            rows = [line.split(",", 1)[0]
                    for line in f.read().splitlines()[1:]]
        self.assertEqual(len(rows), len(set(rows)))
        for _, picked in acknowledged:
            for name in picked:
                self.assertIn(name, rows)
        info = self.pool_info(1, pool)
        self.assertEqual(info.size, len(rows))
        self.assertGreaterEqual(info.version, versions[-1])

    def test_forwarded_call_holds_no_slot_here(self):
        """A call being forwarded holds none of this replica's admission
        slots: with one slot and no queue, a call for this replica's own
        pool runs while a forwarded one waits on its (stopped) owner. (Two
        replicas forwarding to each other would otherwise wait on each
        other's full queues.)"""
        self.start_all(free_ports(2),
                       ["--max-running-calls", "1", "--max-queued-calls", "0"])
        for pool in POOLS[:6]:
            self.select(0, pool, pool)
        owners = {pool: self.owner(pool) for pool in POOLS[:6]}
        theirs = next(p for p in owners if owners[p] == 1)
        ours = next(p for p in owners if owners[p] == 0)
        metrics = METRICS_LINE.search(
            self.servers[0].stderr_text()).group(1)

        def in_flight():
            with urllib.request.urlopen(metrics, timeout=10) as r:
                text = r.read().decode()
            return float(re.search(r"^datapool_rpc_in_flight (\S+)$", text,
                                   re.M).group(1))

        held = {}

        def forwarded():
            try:
                held["version"] = self.select(0, theirs, "held").version
            except grpc.RpcError as e:
                held["error"] = e

        owner = self.servers[1].proc.pid
        os.kill(owner, signal.SIGSTOP)
        worker = threading.Thread(target=forwarded)
        try:
            wait_until(lambda: all_threads_stopped(owner), "the owner stopped")
            worker.start()
            wait_until(lambda: in_flight() >= 1, "the forwarded call")
            self.assertEqual(self.select(0, ours, "mine").version, 2)
        finally:
            os.kill(owner, signal.SIGCONT)
            worker.join()
        self.assertEqual(held, {"version": 2})

    def test_hand_off_waits_for_the_previous_owner(self):
        """A pool whose new owner finds its lock still held by the previous
        owner (a rollout in progress; here a server started without
        replicas) answers writes and reads with UNAVAILABLE and a retry
        hint, not FAILED_PRECONDITION or a stale copy; once that process stops, the owner takes the
        pool over with its last commit."""
        old = RunningServer(self.shared, self.input, ["--model", "none"])
        old.__enter__()
        self.addCleanup(old.stop)
        channel = grpc.insecure_channel(old.address)
        self.addCleanup(channel.close)
        old_stub = self.rpc.DatapoolStub(channel)
        pools = POOLS[:4]
        for pool in pools:
            old_stub.Select(self.request(pool, pool), timeout=TIMEOUT_S)
        self.start_all(free_ports(2))
        for pool in pools:
            with self.assertRaises(grpc.RpcError) as moving:
                self.select(0, pool, "early")
            self.assertEqual(moving.exception.code(),
                             grpc.StatusCode.UNAVAILABLE, pool)
            self.assertIn("moving to this replica",
                          moving.exception.details())
            self.assertIsNotNone(dict(moving.exception.trailing_metadata())
                                 .get("grpc-retry-pushback-ms"))
        # The previous owner still commits, until it stops.
        self.assertEqual(old_stub.Select(self.request(pools[0], "last"),
                                         timeout=TIMEOUT_S).version, 2)
        # Reads wait too: never the copy the previous owner is changing.
        for index in (0, 1):
            with self.assertRaises(grpc.RpcError) as read:
                self.pool_info(index, pools[0])
            self.assertEqual(read.exception.code(),
                             grpc.StatusCode.UNAVAILABLE)
        old.stop()
        for i, pool in enumerate(pools):
            taken = self.select(1, pool, "taken")
            self.assertEqual(taken.version, 3 if i == 0 else 2, pool)
            self.assertEqual(taken.pool_size_before, 4 if i == 0 else 2)
            self.assertIn(self.owner(pool), (0, 1))

    def test_forwarding_over_tls(self):
        """With TLS the replicas call each other over TLS, trusting
        --peer-tls-ca; a replica that does not trust its peer's
        certificate forwards nothing (UNAVAILABLE)."""
        pki = os.path.join(self.dir, "pki")
        os.mkdir(pki)
        make_pki(pki)
        tls = ["--tls-cert", os.path.join(pki, "server.pem"),
               "--tls-key", os.path.join(pki, "server.key")]
        ports = free_ports(2)
        self.start(0, ports, tls + ["--peer-tls-ca",
                                    os.path.join(pki, "ca.pem")])
        self.start(1, ports, tls)  # trusts the system's roots only
        with open(os.path.join(pki, "ca.pem"), "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())

        def stub(index):
            channel = grpc.secure_channel(self.servers[index].address, creds)
            self.addCleanup(channel.close)
            return self.rpc.DatapoolStub(channel)

        created = {}
        for pool in POOLS[:6]:
            for index in (0, 1):
                try:
                    stub(index).Select(self.request(pool, pool),
                                       timeout=TIMEOUT_S)
                    created[pool] = index
                    break
                except grpc.RpcError as e:
                    self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE)
        owners = {pool: self.owner(pool) for pool in created}
        theirs = [p for p in owners if owners[p] == 1]
        ours = [p for p in owners if owners[p] == 0]
        self.assertTrue(theirs and ours, owners)
        # 0 trusts the CA: it forwards to 1.
        for pool in theirs:
            self.assertEqual(stub(0).GetPool(self.pb2.GetPoolRequest(
                pool=pool), timeout=TIMEOUT_S).size, 2)
        # 1 does not: nothing reaches 0 from it.
        with self.assertRaises(grpc.RpcError) as untrusted:
            stub(1).GetPool(self.pb2.GetPoolRequest(pool=ours[0]),
                            timeout=TIMEOUT_S)
        self.assertEqual(untrusted.exception.code(),
                         grpc.StatusCode.UNAVAILABLE)

    def test_replicas_that_disagree_never_forward_twice(self):
        a, b = free_ports(2)
        pair = "127.0.0.1:%d,127.0.0.1:%d"
        # Each thinks it is replica 0 and the other replica 1.
        self.servers[0] = RunningServer(self.shared, self.input, [
            "--model", "none", "--listen", "127.0.0.1:%d" % a,
            "--replica-index", "0", "--peers", pair % (a, b)]).__enter__()
        self.servers[1] = RunningServer(self.shared, self.input, [
            "--model", "none", "--listen", "127.0.0.1:%d" % b,
            "--replica-index", "0", "--peers", pair % (b, a)]).__enter__()
        codes = {}
        for pool in POOLS:
            try:
                self.select(0, pool, pool)
                codes[pool] = grpc.StatusCode.OK
            except grpc.RpcError as e:
                codes[pool] = e.code()
                self.assertIn("never forwarded twice", e.details())
        self.assertEqual(set(codes.values()),
                         {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE})

    def test_bad_cluster_flags_stop_the_server(self):
        for args, says in (
                (["--replicas", "3"], "needs the replicas' addresses"),
                (["--peers", "127.0.0.1:1,127.0.0.1:2", "--replica-index",
                  "2"], "--replica-index must be an integer in [0, 1]"),
                (["--peer-address-template", "host:1", "--replicas", "2",
                  "--replica-index", "0"], "must contain {i}")):
            with self.assertRaises(AssertionError) as failed:
                RunningServer(self.shared, self.input,
                              ["--model", "none"] + args).__enter__()
            self.assertIn(says, str(failed.exception))


if __name__ == "__main__":
    unittest.main()
