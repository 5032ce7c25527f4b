"""selection_bench.py's report: one markdown table per space x pool
setting, the targets with PASS/MISS and by how much, the diagnostics under
them, and the JSON file."""

import json
import os
import platform

import benchlib

METHODS = ("typical", "diversity", "typiclust", "random")
SPACE_TITLES = {"raw": "raw pixels (64-d, unit rows)",
                "model": "built-in model (unit rows)"}
SETTING_TITLES = {"none": "no pool",
                  "pool": "with pool (random 5%% = %d samples, labelled)"}


def pct(f):
    return ("%g%%" % (f * 100))


def cell_title(space, setting, pool_size):
    s = SETTING_TITLES[setting]
    return "%s, %s" % (SPACE_TITLES[space],
                       s % pool_size if "%" in s else s)


def short_title(title):
    """"raw, no pool" from a table's title."""
    space = "raw" if title.startswith("raw") else "model"
    return space + (", with pool" if "with pool" in title else ", no pool")


def acc(v):
    return "%.1f" % (100 * v)


def acc_sd(m):
    return "%.1f ± %.1f" % (100 * m["mean"], 100 * m["sd"])


def header_lines(args, run, say):
    say("Date: %s UTC; machine: %d CPUs (nproc), %s, %.0f GiB; Python %s, "
        "numpy %s, scikit-learn %s" % (
            run["date"], os.cpu_count(), benchlib.cpu_model(),
            benchlib.mem_gib(), platform.python_version(),
            run["versions"]["numpy"], run["versions"]["sklearn"]))
    say("Server: %s (modified %s UTC); tree %s; configs via %s" % (
        run["server_bin"], run["server_mtime"], run["git"], run["via"]))
    say("Data: sklearn digits, N = %d, 10 classes; budget b = floor(f x N); "
        "1-NN (Euclidean, unit rows) from the labelled set (pool + picks) "
        "to every other sample; accuracy in %%. random: %d draws; "
        "typiclust: mean of %d KMeans seeds (n_init=1)."
        % (run["n"], args.draws, args.typiclust_seeds))


def table_lines(cell, say):
    say("| f | b | typical | diversity | typiclust | random (mean ± sd) "
        "| typical − random |")
    say("|---:|---:|---:|---:|---:|---:|---:|")
    for r in cell["rows"]:
        say("| %s | %d | %s | %s | %s | %s | %+.1f |" % (
            pct(r["f"]), r["b"], acc(r["typical"]["acc"]),
            acc(r["diversity"]["acc"]),
            acc_sd(r["typiclust"]) if len(r["typiclust"]["values"]) > 1
            else acc(r["typiclust"]["mean"]),
            acc_sd(r["random"]), 100 * r["typical_minus_random"]))


def targets(cell):
    """[(name, passed, text)] for one table."""
    out = []
    rows = {round(r["f"], 6): r for r in cell["rows"]}
    r1 = rows.get(0.01)
    if r1 is not None:
        d = 100 * r1["typical_minus_random"]
        out.append(("typical − random ≥ 10 points at 1%", d >= 10,
                    "%+.1f points (margin %+.1f)" % (d, d - 10)))
    worst = min(cell["rows"], key=lambda r: r["typical_minus_random"])
    d = 100 * worst["typical_minus_random"]
    out.append(("typical ≥ random (mean) at every budget", d >= 0,
                "lowest %+.1f points, at %s" % (d, pct(worst["f"]))))
    for f in (0.01, 0.02):
        r = rows.get(f)
        if r is not None:
            d = 100 * (r["typical"]["acc"] - r["typiclust"]["mean"])
            out.append(("typical ≥ typiclust at %s" % pct(f), d >= 0,
                        "%+.1f points" % d))
    return out


def diagnostics(cell, say):
    for r in cell["rows"]:
        t, dv = r["typical"], r["diversity"]
        say("- %s (b = %d): classes among the labelled: typical %d, "
            "diversity %d, typiclust %.1f, random %.1f; typical and "
            "diversity share %d of %d picks%s%s" % (
                pct(r["f"]), r["b"], t["classes"], dv["classes"],
                r["typiclust"]["classes"], r["random"]["classes"],
                r["shared_picks"], r["b"],
                "" if dv["kcenter_error"] is None else
                "; diversity NOT greedy k-center: " + dv["kcenter_error"],
                "" if t["n_picks"] == r["b"] and dv["n_picks"] == r["b"]
                else "; picks returned: typical %d, diversity %d" % (
                    t["n_picks"], dv["n_picks"])))


def report_lines(args, run):
    """(lines, [(table title, target name, passed, text)])."""
    lines, verdicts = [], []
    say = lines.append
    header_lines(args, run, say)
    for cell in run["cells"]:
        say("")
        title = cell_title(cell["space"], cell["setting"], run["pool_size"])
        say("### " + title)
        say("")
        table_lines(cell, say)
        say("")
        for name, ok, text in targets(cell):
            say("- %s %s: %s" % ("PASS" if ok else "MISS", name, text))
            verdicts.append((title, name, ok, text))
        diagnostics(cell, say)
    say("")
    missed = [v for v in verdicts if not v[2]]
    say("Targets: %d of %d PASS." % (len(verdicts) - len(missed),
                                      len(verdicts)))
    for t, n, _, x in missed:
        say("- MISS %s — %s: %s" % (short_title(t), n, x))
    if any(r["shared_picks"] == r["b"] for c in run["cells"]
           for r in c["rows"]):
        say("Note: typical and diversity picked the same samples somewhere: "
            "a server without the new default gives k-center for an "
            "unset config.")
    return lines, verdicts


def write_json(path, args, run, verdicts):
    path.write_text(json.dumps({
        "bench": "selection_bench",
        "args": {k: (str(v) if k in ("json_out", "server_bin") else v)
                 for k, v in vars(args).items()},
        "run": run,
        "targets": [{"table": t, "target": n, "pass": ok, "detail": x}
                    for t, n, ok, x in verdicts],
        "machine": {"cpus": os.cpu_count(), "cpu": benchlib.cpu_model(),
                    "mem_gib": benchlib.mem_gib(),
                    "python": platform.python_version()},
    }, indent=1) + "\n")
