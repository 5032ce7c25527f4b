"""images_bench.py's report: the table of (1)-(3) with the targets, the
per-repetition and profile details under it, and the JSON file."""

import json
import os
import platform
import statistics

import cv2
import torch

import benchlib
from images_data import HEIGHT, JPEG_QUALITY, WIDTH


def fmt_ratio(a, b):
    return "%.2f" % (a / b) if b else "-"


def report_lines(args, m, sizes, size, machine_use):
    """(the report's lines, its summary: medians, ratios, verdicts, CPU
    shares)."""
    lines = []
    say = lines.append
    s = table_lines(args, m, sizes, size, say)
    target_lines(args, m, s, machine_use, say)
    say("")
    detail_lines(args, m, say)
    profile_lines(args, m, s, say)
    if m["sweep"]:
        say("")
        say("Sweep, `select --upload` images/s (median of %d):" % args.repeats)
        say("")
        say("| server --threads | --decode-threads | images/s | vs ceiling |")
        say("|---:|---:|---:|---:|")
        for t, d, v in m["sweep"]:
            say("| %d | %d | %.1f | %s |" % (t, d, v, fmt_ratio(v, s["c"])))
    return lines, s


def table_lines(args, m, sizes, size, say):
    """The header and the table of medians; returns the medians."""
    n, T, B, R = args.images, args.threads, args.batch_size, args.repeats
    med = {k: statistics.median(v) for k, v in m["results"].items()}
    c, u, i, p = med["ceiling"], med["upload"], med["input"], med["peer"]
    rows = [
        ("(1) ceiling: model forward on in-memory tensors", c),
        ("(2) `datapool select --upload` end to end", u),
    ]
    if "opencv" in med:
        rows.append(("(2o) the same, `--jpeg-decoder opencv` (old decoder)",
                     med["opencv"]))
    if "spin" in med:
        rows.append(("(2s) the same, server with `GOMP_SPINCOUNT=300000` "
                     "(spinning OpenMP)", med["spin"]))
    rows += [
        ("(2b) `datapool select --input` end to end (extra)", i),
        ("(3) Python peer: cv2 + torch.jit, no_grad", p),
    ]
    say("Machine: %d CPUs (nproc), %s; torch %s, OpenCV %s, Python %s" % (
        os.cpu_count(), benchlib.cpu_model(), torch.__version__,
        cv2.__version__, platform.python_version()))
    say("N = %d JPEGs %dx%d q%d (%.0f-%.0f KB, median %.0f KB); T = %d "
        "threads; B = %d; input %d px; %s model; median of %d "
        "repetitions" % (n, WIDTH, HEIGHT, JPEG_QUALITY, min(sizes) / 1024,
                         max(sizes) / 1024, statistics.median(sizes) / 1024,
                         T, B, size, "ResNet-18" if args.model == "resnet18"
                         else "built-in", R))
    say("Load average before the run: %s" % args.load_before)
    say("")
    say("| case | images/s | ratio vs ceiling (1) | ratio vs Python peer (3) |")
    say("|---|---:|---:|---:|")
    for name, v in rows:
        say("| %s | %.1f | %s | %s |" % (name, v, fmt_ratio(v, c),
                                          fmt_ratio(v, p)))
    say("")
    return {"med": med, "c": c, "u": u, "i": i, "p": p}


def target_lines(args, m, s, machine_use, say):
    """The targets' verdicts, best-of ratios and the machine's noise."""
    c, u, p = s["c"], s["u"], s["p"]
    results = m["results"]
    s["t1"] = u / c >= 0.85
    s["t2"] = u / p >= 1.3
    say("Target (2) >= 0.85 x (1): %.2f  %s" % (u / c, "PASS" if s["t1"]
                                                 else "MISS"))
    for key, label in (("opencv", "old decoder"),
                       ("spin", "spinning OpenMP")):
        if key in s["med"]:
            say("(2) / (2%s) (%s): %.2f" % (key[0], label,
                                             u / s["med"][key]))
    say("Target (2) >= 1.30 x (3): %.2f  %s" % (u / p, "PASS" if s["t2"]
                                                 else "MISS"))
    best = {k: max(v) for k, v in results.items()}
    say("(Best of %d instead of median: (2)/(1) %.2f, (2)/(3) %.2f, "
        "(2b)/(1) %.2f.)" % (args.repeats, best["upload"] / best["ceiling"],
                            best["upload"] / best["peer"],
                            best["input"] / best["ceiling"]))
    use = machine_use.shares()
    s["other"], s["steal"] = other, steal = use.others, use.steal
    say("Other processes used %.0f%% of the machine's CPU time during the "
        "run (hypervisor steal %.0f%%)%s" % (
            100 * other, 100 * steal,
            ": NOISY, rerun on a quiet machine" if other + steal > 0.05
            else ""))


def detail_lines(args, m, say):
    """Per repetition; wall and CPU of the selects; one request's cost."""
    results, details = m["results"], m["details"]
    n = args.images
    say("Per repetition (images/s):")
    keys = [k for k in ("ceiling", "upload", "opencv", "spin", "input",
                        "peer") if k in results]
    for k in keys:
        say("  %-8s %s" % (k, "  ".join("%.1f" % v for v in results[k])))
    for k in (k for k in keys if k in details):
        wall, cli_cpu, server_cpu = [statistics.median(x)
                                     for x in zip(*details[k])]
        say("  %-8s median wall %.2f s; CPU: server %.2f s, CLI %.2f s "
            "(%.0f%% of %d CPUs)" % (k, wall, server_cpu, cli_cpu,
                                     100 * (server_cpu + cli_cpu)
                                     / (wall * os.cpu_count()),
                                     os.cpu_count()))
    # Core-ms per image: robust to other processes' load (they take wall
    # time, not this work's CPU time). (1)'s core-ms over (2)'s is what
    # (2)/(1) would be if the server kept every core busy.
    fwd = statistics.median(details["ceiling_cpu_ms"])
    say("  core-ms per image (CPU time over N, median): (1) forward %.2f" %
        fwd)
    for k in (k for k in keys if k in details):
        per = statistics.median((cli + server) / n * 1000
                                for _, cli, server in details[k])
        say("      %-8s server + CLI %.2f -> (1)/(this) = %.2f" % (
            k, per, fwd / per))
    fixed_s = m["fixed_s"]
    say("  fixed cost of one request (1-image `select --upload`, fresh "
        "pool, median of 3): %.3f s = %.1f%% of the median (2) wall" % (
            fixed_s, 100 * fixed_s / statistics.median(
                d[0] for d in details["upload"])))


def profile_lines(args, m, s, say):
    """The profiled run's busiest threads, the decode-bound estimate, and
    the embeddings' agreement."""
    c, T = s["c"], args.threads
    p_rate, p_wall, p_cli, p_server, p_threads = m["profile"]
    say("  profiled --upload run (untimed, sampled every 50 ms): %.1f img/s, "
        "wall %.2f s, server CPU %.2f s, CLI CPU %.2f s; busiest server "
        "threads (CPU s = %% of wall, name/tid):" % (
            p_rate, p_wall, p_server, p_cli))
    for cpu, tid, name in p_threads[:10]:
        if cpu >= 0.01:
            say("      %6.2f s = %3.0f%%  %s/%d" % (cpu, 100 * cpu / p_wall,
                                                   name, tid))
    # Core-seconds per image: the forward pass at T threads (from the
    # ceiling) plus one decode. If the server overlapped them perfectly on
    # min(T, nproc) cores, (2) could not exceed this bound.
    decode_ms = m["decode_ms"]
    cores = min(T, os.cpu_count())
    bound = cores / (cores / c + decode_ms / 1000)
    say("  decode + resize with OpenCV (1/4 DCT scaling, one thread, in "
        "Python): %.2f ms/image; forward at the ceiling: %.2f core-ms/image; "
        "so on %d cores (2) <= ~%.0f img/s = %.2f x ceiling" % (
            decode_ms, 1000 * cores / c, cores, bound, bound / c))
    decode_lines(args, m, s, say)
    say("Embeddings, server (`datapool embed --upload`) vs Python, %d files, "
        "unit-normalised:" % min(20, args.images))
    for label, (diff, cos) in m["agreement"].items():
        say("  %-24s max |diff| %.4f, min cosine %.5f" % (label, diff, cos))


def decode_lines(args, m, s, say):
    """The server's decoders' core-ms per image and what they bound, on
    this machine's cores and on 16."""
    sd = m.get("server_decode")
    if not sd:
        say("  (no datapool_decode_bench: configure with -DDATAPOOL_BENCH=ON "
            "for the server's own decode cost)")
        return
    c = s["c"]
    cores = min(args.threads, os.cpu_count())
    fwd = 1000 * cores / c  # core-ms per image at the ceiling
    say("  the server's decode + resize to %d px on one thread (%d files, "
        "best of %d, thread CPU time), and the bound each gives (2) on %d "
        "cores with perfect overlap:" % (sd["size"], sd["images"], sd["reps"],
                                         cores))
    for label, key in (("TurboJPEG (default)", "turbojpeg"),
                       ("OpenCV imdecode", "opencv")):
        d = sd[key + "_cpu_ms"]
        bound = 1000 * cores / (fwd + d)
        say("      %-20s %.3f core-ms/image -> (2) <= ~%.0f img/s = %.2f x "
            "ceiling" % (label, d, bound, bound / c))
    say("      same pixels from both: %s" % (
        "yes" if sd["same_pixels"] else "NO"))
    d = sd["turbojpeg_cpu_ms"]
    decoders = 16 - args.threads
    say("  on 16 cores: the model on T = %d threads (%.0f img/s) leaves %d "
        "cores that decode up to ~%.0f img/s (%.1f x that ceiling), so "
        "decoding no longer limits (2); all 16 cores on the model (at %.2f "
        "core-ms/image) would still give %.0f%% of the cores to decoding: "
        "(2) <= %.2f x that ceiling" % (
            args.threads, c, decoders, 1000 * decoders / d,
            1000 * decoders / d / c, fwd, 100 * d / (fwd + d),
            fwd / (fwd + d)))


def write_json(path, args, m, s):
    p_rate, p_wall, p_cli, p_server, p_threads = m["profile"]
    path.write_text(json.dumps({
        "images": args.images, "threads": args.threads,
        "batch_size": args.batch_size, "repeats": args.repeats,
        "cpus": os.cpu_count(), "cpu_model": benchlib.cpu_model(),
        "torch": torch.__version__, "results": m["results"],
        "median": s["med"],
        "targets": {"upload_vs_ceiling": s["u"] / s["c"],
                    "upload_vs_peer": s["u"] / s["p"]},
        "other_processes_cpu_share": s["other"], "steal_share": s["steal"],
        "sweep": m["sweep"], "decode_ms_per_image": m["decode_ms"],
        "server_decode": m.get("server_decode"), "model": args.model,
        "load_before": args.load_before,
        "fixed_request_s": m["fixed_s"],
        "profile": {"images_per_s": p_rate, "wall_s": p_wall,
                    "server_cpu_s": p_server, "cli_cpu_s": p_cli,
                    "threads": [[n_, t_, c_] for c_, t_, n_ in
                                p_threads if c_ >= 0.01]},
        "agreement": {k: {"max_abs_diff": d, "min_cosine": cs}
                      for k, (d, cs) in m["agreement"].items()},
    }, indent=2))
