"""How much of the machine's CPU time a benchmark did not have: one helper
for every script in bench/ (stdlib only).

    use = MachineUse()
    ...run, wait for the children...
    s = use.shares()   # s.others, s.script, s.children, s.steal
"""

import collections
import os
import resource

CLK_TCK = os.sysconf("SC_CLK_TCK")

Shares = collections.namedtuple("Shares", "others script children steal")


class MachineUse:
    """Shares of all CPU time since construction, from /proc/stat and
    getrusage: `others` is what processes other than this one and its
    reaped children (servers, CLIs) used, `script` this process, `children`
    its reaped children, `steal` the hypervisor's."""

    def __init__(self):
        self.start = self._snapshot()

    @staticmethod
    def _snapshot():
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal (guest in user)
        busy = sum(ticks[i] for i in (0, 1, 2, 5, 6)) / CLK_TCK
        total = sum(ticks[:8]) / CLK_TCK
        steal = ticks[7] / CLK_TCK if len(ticks) > 7 else 0.0
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (busy, total, steal, own.ru_utime + own.ru_stime,
                children.ru_utime + children.ru_stime)

    def shares(self):
        """Shares so far; call once every child has exited."""
        busy, total, steal, own, children = [
            e - s for e, s in zip(self._snapshot(), self.start)]
        if total <= 0:
            return Shares(0.0, 0.0, 0.0, 0.0)
        return Shares(max(0.0, busy - own - children) / total, own / total,
                      children / total, steal / total)
