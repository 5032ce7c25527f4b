"""soak.py's printed report: the run, calls by method, errors by code,
durability, the server's lives, disk use, notes and alarms."""

from soak_summary import OUTAGE_GRACE_S


def mb(b):
    return "-" if b is None else "%.2f MB" % (b / 1e6)


def kb(b):
    return "-" if b is None else "%.1f KB" % (b / 1e3)


def print_report(r):
    p = print
    p()
    print_run(r)
    p()
    print_calls(r)
    p()
    print_errors(r)
    p()
    d = r["durability"]
    p("Durability: %d Selects committed, %d acknowledged picks, %d MISSING "
      "from datapool_latest.csv (must be 0); %d rows on disk whose answer "
      "was lost (in flight at a kill); %d duplicate rows"
      % (r["commits"], d["acked"], d["missing"], d["unacknowledged_rows"],
         d["duplicates"]))
    p()
    print_lives(r)
    p()
    print_disk(r)
    p()
    for note in r["notes"]:
        p("Note, " + note)
    if r["alarms"]:
        p("ALARMS:")
        for a in r["alarms"]:
            p("  - " + a)
    else:
        p("No alarms.")


def print_run(r):
    p = print
    p("Datapool soak: %s" % r["command"])
    m = r["machine"]
    p("Machine: %d CPUs (nproc), %s; Python %s, grpcio %s; tree %s; "
      "load average %.2f at the start"
      % (m["nproc"], m["cpu"], m["python"], m["grpc"], m["tree"],
         m["loadavg_start"]))
    p("Server: %s (--model none --log-level %s), default limits%s"
      % (r["server_bin"], r["server_log_level"],
         "; environment " + " ".join(r["server_env"])
         if r["server_env"] else ""))
    p("Run: %d clients, %.1f min planned, %.1f s ran; kill -9 every %s; "
      "%d pools; %d rows x %d-d per Select, n_samples %d-%d; %.0f%% reads; "
      "deadline %.0f s"
      % (r["clients"], r["minutes"], r["wall_s"],
         ("%g s" % r["kill_every_s"]) if r["kill_every_s"] else "never",
         r["pools"], r["rows"], r["dim"], r["min_picks"], r["max_picks"],
         100 * r["read_share"], r["deadline_s"]))
    c = r["cpu_shares"]
    p("CPU use over the run (share of all %d CPUs): servers %.0f%%, this "
      "script %.0f%%, other processes %.0f%%"
      % (m["nproc"], 100 * c["servers"], 100 * c["script"],
         100 * c["others"]))
    if r["stopped_early"]:
        p("STOPPED EARLY: " + r["stopped_early"])


def print_calls(r):
    p = print
    calls = r["calls"]
    p("| calls | total | ok | errors | ok/s | p50 ms | p99 ms |")
    p("|---|---:|---:|---:|---:|---:|---:|")
    for method, row in calls["by_method"].items():
        p("| %s | %d | %d | %d | %.1f | %s | %s |"
          % (method, row["total"], row["ok"], row["errors"], row["ok_per_s"],
             "-" if row["p50_ms"] is None else "%.1f" % row["p50_ms"],
             "-" if row["p99_ms"] is None else "%.1f" % row["p99_ms"]))
    p("| all | %d | %d | %d | %.1f | | |"
      % (calls["total"], calls["ok"], calls["errors"], calls["ok_per_s"]))


def print_errors(r):
    p = print
    p("Errors by code (during outages = from the kill to %.0f s after the "
      "new server listens):" % OUTAGE_GRACE_S)
    if not r["errors"]["by_code"]:
        p("  none")
    for code, row in r["errors"]["by_code"].items():
        p("  %-22s %6d  (during outages %d, outside %d)"
          % (code, row["total"], row["during_outage"], row["outside"]))
    for key, n in r["errors"]["by_method_code"].items():
        p("    %-34s %6d" % (key, n))


def print_lives(r):
    p = print
    p("Server lives (RSS MiB / open fds / threads, sampled every 1 s: "
      "start -> max -> end):")
    p("| life | role | start s | up s | RSS MiB | of which anon | fds | "
      "threads | end |")
    p("|---:|---|---:|---:|---|---|---|---|---|")
    for life in r["lives"]:
        def tri(key):
            v = life.get(key)
            if not v:
                return "-"
            fmt = "%.0f" if key.endswith("_mib") else "%d"
            return " -> ".join(fmt % v[k] for k in ("start", "max", "end"))
        p("| %d | %s | %s | %s | %s | %s | %s | %s | %s |"
          % (life["life"], life["role"],
             "-" if life["start_s"] is None else "%.2f" % life["start_s"],
             "-" if life["up_s"] is None else "%.0f" % life["up_s"],
             tri("rss_mib"), tri("rss_anon_mib"), tri("fds"),
             tri("threads"), life["end"]))
    o = r["overall"]
    if o:
        p("Overall (soak lives): RSS %.0f -> max %.0f -> end %.0f MiB (anon "
          "%.0f -> %.0f -> %.0f); fds %d -> max %d -> end %d; threads %d -> "
          "max %d -> end %d; restarts %d, outage (kill to listening) median "
          "%.2f s, max %.2f s"
          % (o["rss_mib"]["start"], o["rss_mib"]["max"], o["rss_mib"]["end"],
             o["rss_anon_mib"]["start"], o["rss_anon_mib"]["max"],
             o["rss_anon_mib"]["end"],
             o["fds"]["start"], o["fds"]["max"], o["fds"]["end"],
             o["threads"]["start"], o["threads"]["max"],
             o["threads"]["end"], o["restarts"],
             o["outage_s_median"] or 0, o["outage_s_max"] or 0))


def print_disk(r):
    p = print
    disk = r["disk"]
    p("Disk: shared folder %s (%s allocated, %d files); grew %.1f MB/min"
      % (mb(disk["shared_bytes"]), mb(disk["shared_allocated"]),
         disk["shared_files"], disk["growth_mb_per_min"]))
    p("| pool | versions | rows | latest CSV | history/ (CSVs) | reports/ "
      "(reports) | pool folder | per version | per kept CSV | per report |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for pool, x in disk["pools"].items():
        p("| %s | %d | %s | %s | %s (%d) | %s (%d) | %s | %s | %s | %s |"
          % (pool, x["versions"], x["rows"], mb(x["latest_csv_bytes"]),
             mb(x["history_bytes"]), x["history_csvs"],
             mb(x["reports_bytes"]), x["reports"], mb(x["bytes"]),
             kb(x["bytes_per_version"]),
             kb(x["history_bytes_per_kept_version"]),
             kb(x["report_bytes_per_report"])))
