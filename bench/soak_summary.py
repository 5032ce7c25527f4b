"""soak.py's summary of a run: calls and latencies by method, errors by
gRPC code (during the outages a kill causes, and outside them), each server
life's memory, fds and threads, disk growth, and the alarms and notes."""

from soak_server import SAMPLE_COLUMNS

METHODS = ("Select", "GetPool", "ListPools", "ListHistory", "Search")
# Codes a client sees because the server is down or was killed mid-call.
OUTAGE_CODES = ("UNAVAILABLE", "CANCELLED", "DEADLINE_EXCEEDED", "UNKNOWN",
                "INTERNAL")
# Errors that fall this long after a restart still count as the outage's
# (clients reconnect to the new port).
OUTAGE_GRACE_S = 1.0


def percentile(values, q):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def method_rows(stats, wall):
    """Per method: calls, errors, ok/s, p50 and p99 latency."""
    by_method = {}
    for method in METHODS:
        ok = stats.ok[method]
        err = sum(n for (m_, _), n in stats.errors.items() if m_ == method)
        lat = stats.latency[method]
        by_method[method] = {
            "total": ok + err, "ok": ok, "errors": err,
            "ok_per_s": ok / wall if wall else 0.0,
            "p50_ms": (percentile(lat, 0.5) * 1e3) if lat else None,
            "p99_ms": (percentile(lat, 0.99) * 1e3) if lat else None}
    return by_method


def error_codes(stats, sup):
    """Per gRPC code: errors in all, during outages and outside them; the
    most frequent first."""
    def in_outage(t):
        return any(a <= t < b + OUTAGE_GRACE_S for a, b in sup.outages)
    by_code = {}
    for t, code in stats.error_times:
        row = by_code.setdefault(code, {"total": 0, "during_outage": 0,
                                        "outside": 0})
        row["total"] += 1
        row["during_outage" if in_outage(t) else "outside"] += 1
    return dict(sorted(by_code.items(), key=lambda kv: -kv[1]["total"]))


def overall_lives(sup, soak_lives):
    """Start, max and end of each sampled column over the soak's lives;
    restarts and outage lengths. None without samples."""
    if not soak_lives:
        return None
    overall = {}
    for key, col in SAMPLE_COLUMNS:
        overall[key] = {
            "start": soak_lives[0].samples[0][col],
            "max": max(s[col] for l in soak_lives for s in l.samples),
            "end": soak_lives[-1].samples[-1][col]}
    outs = [b - a for a, b in sup.outages]
    overall["restarts"] = len(sup.outages)
    overall["outage_s_median"] = percentile(outs, 0.5)
    overall["outage_s_max"] = max(outs) if outs else None
    return overall


def add_disk_growth(disk, sampler, t0):
    growth = 0.0
    if len(sampler.disk) >= 2:
        (ta, sa, _), (tb, sb, _) = sampler.disk[0], sampler.disk[-1]
        growth = (sb - sa) / 1e6 / ((tb - ta) / 60) if tb > ta else 0.0
    disk["growth_mb_per_min"] = growth
    disk["samples"] = [(round(t - t0, 1), s, a) for t, s, a in sampler.disk]


def durability_alarms(alarms, totals, dura, infos, disk):
    """Missing or duplicate picks, unreadable CSVs, versions or sizes the
    final server disagrees with, pools it lost, temporary files left."""
    if totals["missing"]:
        alarms.append("%d acknowledged picks are missing from the CSVs"
                      % totals["missing"])
    if totals["duplicates"]:
        alarms.append("%d duplicate filenames in the CSVs"
                      % totals["duplicates"])
    for pool, p in dura.items():
        if "error" in p:
            alarms.append("%s: CSV unreadable: %s" % (pool, p["error"]))
        v = infos.get(pool, {}).get("version")
        if v is not None and v < p.get("highest_acked_version", 0):
            alarms.append("%s: version %d after the restart < acknowledged "
                          "version %d" % (pool, v, p["highest_acked_version"]))
        size = infos.get(pool, {}).get("size")
        if size is not None and p.get("rows") is not None and \
                size != p["rows"]:
            alarms.append("%s: GetPool size %d != %d CSV rows"
                          % (pool, size, p["rows"]))
    for pool in dura:
        if pool not in infos:
            alarms.append("%s: not listed by the final server" % pool)
    for pool, x in disk["pools"].items():
        if x["temp_files_left"]:
            alarms.append("%s: temporary files left after the final restart:"
                          " %s" % (pool, x["temp_files_left"][:5]))


def server_alarms(alarms, by_code, sup, stats, sampler):
    """Errors no outage explains; failed stops, logged warnings, fd and RSS
    growth per life; failed starts; uncommitted answers; an early stop."""
    for code, row in by_code.items():
        # Pools exist from the warm-up on, so NOT_FOUND (and any code a
        # downed server does not explain) is a finding; so is an outage
        # code while the server was up.
        if code not in OUTAGE_CODES or row["outside"]:
            alarms.append("%d %s errors (%d outside outages)"
                          % (row["total"], code, row["outside"]))
    for life in sup.lives:
        life_alarms(alarms, life)
    if sup.start_failures:
        alarms.append("%d server start failures, first: %s"
                      % (len(sup.start_failures),
                         sup.start_failures[0].splitlines()[0]))
    if stats.ok_not_committed:
        alarms.append("%d Select answers OK but committed=false"
                      % stats.ok_not_committed)
    if sampler.disk_stop:
        alarms.append("stopped early: " + sampler.disk_stop)


def life_alarms(alarms, life):
    if life.end and life.end.startswith("SIGTERM failed"):
        alarms.append("life %d: %s" % (life.index, life.end))
    if life.log_lines:
        alarms.append("life %d: the server logged %d warning/error "
                      "lines, first: %s" % (life.index, life.log_lines,
                                            life.log_head[0]))
    if len(life.samples) >= 5:
        first, last = life.samples[0], life.samples[-1]
        if last[2] > first[2] + 50:
            alarms.append("life %d: open fds %d -> %d (a leak?)"
                          % (life.index, first[2], last[2]))
        peak = max(s[1] for s in life.samples)
        if peak > 2 * first[1] and peak > first[1] + 200:
            alarms.append("life %d: RSS %.0f -> max %.0f MiB"
                          % (life.index, first[1], peak))


def disk_notes(disk):
    """Findings that are not failures: what the disk figures say."""
    notes = []
    pools = disk["pools"].values()
    versions = sum(x["versions"] for x in pools)
    if versions:
        latest = sum(x["latest_csv_bytes"] for x in pools)
        history = sum(x["history_bytes"] for x in pools)
        reports = sum(x["reports_bytes"] for x in pools)
        folders = sum(x["bytes"] for x in pools)
        added = latest / versions
        notes.append(
            "disk: %.1f KB per version, while a version adds %.1f KB of CSV "
            "rows on average (%.0fx): history/ is %.0f%% of the pools' "
            "bytes (%.1f KB per kept version) and reports/ %.1f KB per "
            "version (%.0f%%); retention (--keep-versions, --keep-reports) "
            "bounds both"
            % (folders / versions / 1e3, added / 1e3,
               folders / versions / added if added else 0,
               100 * history / folders if folders else 0,
               history / max(1, sum(x["history_csvs"] for x in pools)) / 1e3,
               reports / versions / 1e3,
               100 * reports / folders if folders else 0))
    no_report = {pool: x["versions_without_report"]
                 for pool, x in disk["pools"].items()
                 if x["versions_without_report"]}
    if no_report:
        notes.append("reports: versions without a report (a kill between "
                     "the commit and its report?): %s"
                     % "; ".join("%s %s" % (pool, v[:10])
                                 for pool, v in no_report.items()))
    return notes


def memory_notes(sup, soak_lives):
    """Findings that are not failures: what the memory figures say."""
    notes = []
    final = [l for l in sup.lives if l.role == "final" and l.samples]
    if soak_lives and final:
        last, idle = soak_lives[-1].samples[-1], final[-1].samples[-1]
        notes.append(
            "memory: the last soak life ended at %.0f MiB RSS (anon %.0f); a "
            "fresh server holding the same pools idles at %.0f MiB (anon %.0f)"
            % (last[1], last[4], idle[1], idle[4]))
        ends = [l.samples[-1][1] for l in soak_lives]
        notes.append("memory: RSS at the end of each soak life: %s MiB"
                     % " ".join("%.0f" % e for e in ends))
    return notes


def summarise(args, argv, t0, t_end, sup, sampler, stats, clients, dura,
              disk, infos, problems, machine, cpu):
    wall = t_end - t0
    by_method = method_rows(stats, wall)
    total_ok = sum(stats.ok.values())
    total_err = sum(stats.errors.values())
    by_code = error_codes(stats, sup)
    lives = [life.summary(t0) for life in sup.lives]
    soak_lives = [life for life in sup.lives if life.role == "soak"
                  and life.samples]
    overall = overall_lives(sup, soak_lives)
    add_disk_growth(disk, sampler, t0)
    totals = {k: sum(p.get(k, 0) for p in dura.values())
              for k in ("acked", "missing", "unacknowledged_rows",
                        "duplicates")}
    alarms = list(problems)
    durability_alarms(alarms, totals, dura, infos, disk)
    server_alarms(alarms, by_code, sup, stats, sampler)
    notes = disk_notes(disk) + memory_notes(sup, soak_lives)

    return {
        "command": " ".join(["/usr/bin/python3", "bench/soak.py"] + argv),
        "machine": machine, "server_bin": args.server_bin,
        "cli_bin": args.cli_bin, "server_log_level": args.server_log_level,
        "server_env": args.server_env,
        "clients": args.clients, "minutes": args.minutes,
        "kill_every_s": args.kill_every, "pools": args.pools,
        "rows": args.rows, "dim": args.dim, "min_picks": args.min_picks,
        "max_picks": args.max_picks, "read_share": args.read_share,
        "deadline_s": args.deadline_s, "seed": args.seed,
        "wall_s": wall, "stopped_early": sampler.disk_stop,
        "cpu_shares": {"others": cpu[0], "script": cpu[1],
                       "servers": cpu[2]},
        "calls": {"total": total_ok + total_err, "ok": total_ok,
                  "errors": total_err,
                  "ok_per_s": total_ok / wall if wall else 0.0,
                  "calls_per_s": (total_ok + total_err) / wall if wall
                  else 0.0,
                  "by_method": by_method,
                  "per_client": [c.calls for c in clients]},
        "errors": {"by_code": by_code,
                   "by_method_code": {"%s %s" % k: n for k, n in
                                      sorted(stats.errors.items())}},
        "commits": stats.commits,
        "ok_not_committed": stats.ok_not_committed,
        "durability": dict(totals, pools=dura),
        "lives": lives, "overall": overall,
        "outages_s": [round(b - a, 3) for a, b in sup.outages],
        "final_server": infos,
        "disk": disk, "alarms": alarms, "notes": notes}
