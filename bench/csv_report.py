"""csv_bench.py's report: the table against the targets, the diagnostics
under it, the machine line, and the block it writes into bench/README.md."""

import os
import platform
import re
from pathlib import Path

import numpy as np

import benchlib
from benchlib import log
from csv_cases import CACHE_FILE
from csv_data import case_name

MB = 1e6
TARGET_SPEEDUP = 5.0
TARGET_START = 1.2
README = benchlib.REPO / "bench" / "README.md"
BEGIN_MARK = ("<!-- csv-bench results: begin "
              "(bench/csv_bench.py --update-readme) -->")
END_MARK = "<!-- csv-bench results: end -->"


def verdict(ok):
    return "PASS" if ok else "MISS"


# ------------------------------------------------------------------ table

def rows_for(args, c):
    """Table rows: (case, Datapool, reference, ratio, target, verdict)."""
    judged = not args.quick
    rows = []
    if "pd_write" in c:
        rows += pandas_rows(c, judged)
    if c.get("server"):
        rows += server_rows(c, judged)
    return rows


def pandas_rows(c, judged):
    """Datapool's write and read against pandas' to_csv and read_csv."""
    name = case_name(c["rows"], c["dim"])
    dw, dr = c["dp_write"], c["dp_read"]
    rows = []
    pw = c["pd_write"]
    ratio = pw["seconds"] / dw["seconds"]
    rows.append((
        "%s write" % name, "%.3f s" % dw["seconds"],
        "pandas to_csv %.2f s" % pw["seconds"],
        "%.1fx faster" % ratio, ">= %gx" % TARGET_SPEEDUP,
        verdict(ratio >= TARGET_SPEEDUP) if judged else ""))
    pr = c["pd_read"]
    ratio = pr["seconds"] / dr["seconds"]
    rows.append((
        "%s read" % name, "%.3f s" % dr["seconds"],
        "pandas read_csv %.2f s" % pr["seconds"],
        "%.1fx faster" % ratio, ">= %gx" % TARGET_SPEEDUP,
        verdict(ratio >= TARGET_SPEEDUP) if judged else ""))
    if "pd_read_rt" in c:
        rt = c["pd_read_rt"]
        rows.append((
            "  read vs read_csv float_precision='round_trip'",
            "%.3f s" % dr["seconds"],
            "pandas read_csv %.2f s" % rt["seconds"],
            "%.1fx faster" % (rt["seconds"] / dr["seconds"]), "(info)",
            ""))
    return rows


def server_rows(c, judged):
    """Server starts against Datapool's CSV read."""
    name = case_name(c["rows"], c["dim"])
    dr, srv = c["dp_read"], c["server"]

    def start_row(label, key, target=False):
        s = srv[key]["best"]["listed_s"]
        ratio = s / dr["seconds"]
        return (label, "%.3f s" % s,
                "Datapool CSV read %.3f s" % dr["seconds"],
                "%.2fx" % ratio,
                "<= %gx" % TARGET_START if target else "(info)",
                verdict(ratio <= TARGET_START) if target and judged
                else "")
    rows = [start_row("%s server restart, pool ready (--model none)"
                      % name, "owned", True),
            start_row("  first start after the commit", "owned_first")]
    if "owned_model" in srv:
        rows.append(start_row("  restart with the built-in model",
                              "owned_model"))
    if "owned_nocache" in srv:
        rows.append(start_row("  restart without %s" % CACHE_FILE,
                              "owned_nocache"))
    if "adopted" in srv:
        rows.append(start_row("  adopted pool (CSV only), restart",
                              "adopted"))
        rows.append(start_row("  adopted pool, first start",
                              "adopted_first"))
    return rows


def markdown_table(rows):
    head = ("case", "Datapool", "reference", "ratio", "target", "")
    allrows = [head] + rows
    w = [max(len(r[i]) for r in allrows) for i in range(len(head))]

    def line(r):
        cells = (r[i].ljust(w[i]) for i in range(len(r)))
        return "| " + " | ".join(cells) + " |"
    sep = "|" + "|".join("-" * (x + 2) for x in w) + "|"
    return "\n".join([line(head), sep] + [line(r) for r in rows])


# ------------------------------------------------------------------ details

def details(c):
    """Diagnostics under the table, one case."""
    L = datapool_details(c)
    if "pd_write" in c:
        L += pandas_details(c)
    if c.get("server"):
        L += server_details(c)
    L.append(cpu_details(c))
    bad = [k for k, v in c["checks"].items() if not v]
    L.append("  checks: %s" % ("all %d passed" % len(c["checks"]) if not bad
                               else "FAILED: " + "; ".join(bad)))
    return L


def datapool_details(c):
    name = case_name(c["rows"], c["dim"])
    dw, dr = c["dp_write"], c["dp_read"]
    L = []
    L.append("%s: %.0f MB CSV (%.1f B/value)" % (
        name, dw["bytes"] / MB, dw["bytes"] / (c["rows"] * c["dim"])))
    L.append("  Datapool write %.3f s = AppendCsv %.3f + WriteFileAtomically "
             "%.3f (fsyncs included); runs %s; peak RSS %.0f MB" % (
                 dw["seconds"], dw["format_s"], dw["write_file_s"],
                 " ".join("%.3f" % t for t in dw["all_s"]),
                 dw["peak_rss_kib"] / 1024))
    L.append("  Datapool read  %.3f s (ReadCsvFile; runs %s); parts: ReadFile "
             "%.3f, ParseCsv %.3f; Checksum() of the text %.3f; "
             "peak RSS %.0f MB (%.0f MB with the text kept)" % (
                 dr["seconds"], " ".join("%.3f" % t for t in dr["all_s"]),
                 dr["read_file_s"], dr["parse_s"], dr["checksum_s"],
                 dr["peak_rss_kib"] / 1024,
                 dr["peak_rss_with_text_kib"] / 1024))
    if dr.get("threads_arg"):
        L.append("  codec thread argument: %d (0 = its default)"
                 % dr["threads"])
    return L


def pandas_details(c):
    pw, pr = c["pd_write"], c["pd_read"]
    return [
        "  pandas to_csv runs %s (%.0f MB, %s Datapool's bytes); "
        "read_csv runs %s%s" % (
            " ".join("%.2f" % t for t in pw["all_s"]),
            pw["bytes"] / MB,
            "identical to" if pw["same_bytes_as_datapool"]
            else "differs from",
            " ".join("%.2f" % t for t in pr["all_s"]),
            "; round_trip runs %s" % " ".join(
                "%.2f" % t for t in c["pd_read_rt"]["all_s"])
            if "pd_read_rt" in c else ""),
        "  pandas read_csv -> float32 mismatches: default %d%s" % (
            pr["float32_mismatches"],
            ", round_trip %d" % c["pd_read_rt"]["float32_mismatches"]
            if "pd_read_rt" in c else "")]


def server_details(c):
    srv = c["server"]

    def s(key):
        b = srv[key]["best"]
        return "%.3f s (listening %.3f; server peak RSS %.0f MB)" % (
            b["listed_s"], b["listen_s"], b["peak_rss_kib"] / 1024)
    L = ["  server start to ListPools: restart %s" % s("owned"),
         "    first start %s" % s("owned_first")]
    if "owned_model" in srv:
        L.append("    built-in model %s" % s("owned_model"))
    if "owned_nocache" in srv:
        L.append("    without %s %s" % (CACHE_FILE, s("owned_nocache")))
    if "adopted" in srv:
        L.append("    adopted %s; first %s" % (s("adopted"),
                                               s("adopted_first")))
    L.append("    no pool %s%s" % (
        s("empty"), "; no pool, built-in model %s" % s("empty_model")
        if "empty_model" in srv else ""))
    ld = c["dp_load"]
    L.append("  in-process: PoolStore::Load %.3f s, PoolManager::Create "
             "%.3f s (Load + snapshot: filename set, FAISS add)%s" % (
                 ld["store_load_s"], ld["manager_create_s"],
                 "; adopted: Load %.3f, Create %.3f" % (
                     c["dp_load_adopted"]["store_load_s"],
                     c["dp_load_adopted"]["manager_create_s"])
                 if "dp_load_adopted" in c else ""))
    L.append("  PoolStore::Commit (CSV + checksum + metadata, fsyncs) "
             "%.3f s" % c["dp_commit"]["seconds"])
    L.append("  pool folder: " + "; ".join(
        "%s: %s" % (k, " ".join(v)) for k, v in srv["files"].items()))
    return L


def cpu_details(c):
    """CPU seconds of the same best runs: other load on the machine inflates
    wall times far more than these (multi-threaded code has CPU > wall)."""
    dw, dr, srv = c["dp_write"], c["dp_read"], c.get("server")
    cpu = ["Datapool write %.2f" % dw["cpu_s"]]
    if "pd_write" in c:
        cpu.append("pandas to_csv %.2f (%.1fx)" % (
            c["pd_write"]["cpu_s"], c["pd_write"]["cpu_s"] / dw["cpu_s"]))
    cpu.append("Datapool read %.2f" % dr["cpu_s"])
    if "pd_read" in c:
        cpu.append("pandas read_csv %.2f (%.1fx)" % (
            c["pd_read"]["cpu_s"], c["pd_read"]["cpu_s"] / dr["cpu_s"]))
    if srv:
        cpu.append("server restart %.2f (%.2fx the read)" % (
            srv["owned"]["best"]["cpu_s"],
            srv["owned"]["best"]["cpu_s"] / dr["cpu_s"]))
        cpu.append("server with no pool %.2f" % srv["empty"]["best"]["cpu_s"])
    return "  CPU seconds: " + "; ".join(cpu)


# ------------------------------------------------------------------ header

def build_type(binary):
    """CMAKE_BUILD_TYPE of the build folder a binary came from, or "?"."""
    cache = Path(binary).resolve().parent
    for p in (cache, cache.parent):
        f = p / "CMakeCache.txt"
        if f.exists():
            m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$",
                          f.read_text(), re.M)
            return m.group(1) if m else "?"
    return "?"


def machine_line(args):
    cpu = benchlib.cpu_model("")
    try:
        import pandas as pd  # the peer; absent when skipped
        pandas_version = pd.__version__
    except ImportError:
        pandas_version = "not installed"
    return ("Machine: %d CPUs (nproc), %s, %.1f GiB; Python %s, numpy %s, "
            "pandas %s; datapool_csv_bench %s build, datapool-server %s "
            "build" % (
                os.cpu_count(), cpu, benchlib.mem_gib(),
                platform.python_version(), np.__version__,
                pandas_version, build_type(args.bench_bin),
                build_type(args.server_bin)))


def update_readme(block):
    text = README.read_text()
    if BEGIN_MARK not in text or END_MARK not in text:
        raise SystemExit("bench/README.md has no csv-bench markers")
    head, rest = text.split(BEGIN_MARK, 1)
    _, tail = rest.split(END_MARK, 1)
    README.write_text(head + BEGIN_MARK + "\n" + block + "\n" + END_MARK
                      + tail)
    log("bench/README.md updated")
