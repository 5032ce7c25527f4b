"""images_bench.py's server side: the server under test, the `datapool` CLI
timed against it, and a per-thread CPU sampler of the server."""

import json
import os
import resource
import subprocess
import threading
import time

import benchlib
from benchlib import CLK_TCK, proc_cpu_s

benchlib.use_test_helpers()
from server_harness import RunningServer  # noqa: E402


def thread_cpu(pid):
    """{tid: (name, cpu seconds)} for every thread of a process."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                text = f.read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        out[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / CLK_TCK)
    return out


def start_server(server_bin, shared, input_dir, threads, decode_threads,
                 batch, extra_args=(), env=None):
    """The server under test; `env` (a dict) is added to this process's
    environment."""
    full_env = None
    if env:
        full_env = dict(os.environ)
        full_env.update(env)
    return RunningServer(shared, input_dir, binary=server_bin, extra_args=[
        "--threads", threads, "--decode-threads", decode_threads,
        "--batch-size", batch, "--device", "cpu", *extra_args], env=full_env)


class Cli:
    def __init__(self, path, address):
        self.path, self.address = path, address

    def run(self, *args, check=True):
        cmd = [self.path, "--server", self.address] + [str(a) for a in args]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError("%s failed (exit %d):\n%s%s" % (
                " ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def timed_select(self, server_pid, pool, source_flag, source, n_expected,
                     sample_threads=False):
        """Runs one select (and deletes the pool, untimed); returns
        (images/s, wall s, CLI CPU s, server CPU s, per-thread server CPU).

        With sample_threads a sampler reads /proc/PID/task/*/stat every 50 ms
        (like `top -H`), since the pipeline's threads live for one request
        only; otherwise the per-thread list is empty.
        """
        sampler = ThreadSampler(server_pid) if sample_threads else None
        server_before = proc_cpu_s(server_pid)
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        if sampler:
            sampler.start()
        t0 = time.perf_counter()
        proc = self.run("select", "--pool", pool, source_flag, source,
                        "--n-samples", 10, "--json")
        wall = time.perf_counter() - t0
        per_thread = sampler.stop() if sampler else []
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_cpu = proc_cpu_s(server_pid) - server_before
        cli_cpu = ((children_after.ru_utime + children_after.ru_stime)
                   - (children_before.ru_utime + children_before.ru_stime))
        self._check_reply(proc, source_flag, source, n_expected)
        self.run("pools", "delete", pool)  # keeps the disk small; not timed
        return n_expected / wall, wall, cli_cpu, server_cpu, per_thread

    @staticmethod
    def _check_reply(proc, source_flag, source, n_expected):
        """Raises unless every image arrived and the picks were committed."""
        reply = json.loads(proc.stdout)
        problems = []
        if reply.get("skipped"):
            problems.append("%d skipped, first: %s" % (
                len(reply["skipped"]), reply["skipped"][0]))
        if reply.get("candidates_received") != n_expected:
            problems.append("candidates_received %s != %d" % (
                reply.get("candidates_received"), n_expected))
        picks = min(10, n_expected)
        if not reply.get("committed") or len(reply.get("selected", [])) != picks:
            problems.append("expected %d picks committed" % picks)
        if problems:
            raise RuntimeError("select %s %s: %s\n%s" % (
                source_flag, source, "; ".join(problems), proc.stdout[:2000]))


class ThreadSampler:
    """Per-thread CPU seconds of a process over an interval, by polling."""

    def __init__(self, pid, period_s=0.05):
        self.pid, self.period_s = pid, period_s
        self.first, self.last = {}, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self):
        for tid, (name, cpu) in thread_cpu(self.pid).items():
            self.first.setdefault(tid, (name, cpu))
            self.last[tid] = (name, cpu)

    def start(self):
        self._sample()
        self.base = set(self.first)  # threads alive before the request
        self._thread.start()

    def _loop(self):
        while not self._stop.wait(self.period_s):
            self._sample()

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._sample()
        out = []
        for tid, (name, cpu) in self.last.items():
            start = self.first[tid][1] if tid in self.base else 0.0
            out.append((cpu - start, tid, name))
        return sorted(out, reverse=True)
