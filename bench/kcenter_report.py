"""kcenter_bench.py's report: the table of cases against their targets, the
header lines above it, and the JSON file."""

import json

from kcenter_runs import compare_picks

MB = 1e6


class Table:
    def __init__(self):
        self.rows = []
        self.misses = 0

    def add(self, case, measured, reference, ratio, goal, verdict=None):
        if verdict is None:
            verdict = ""
        elif verdict is True:
            verdict = "PASS"
        elif verdict is False:
            verdict = "MISS"
            self.misses += 1
        self.rows.append((case, measured, reference, ratio, goal, verdict))

    def render(self):
        head = ("case", "measured", "reference", "ratio", "goal", "")
        widths = [max(len(str(r[i])) for r in self.rows + [head])
                  for i in range(6)]
        line = lambda r: "| " + " | ".join(  # noqa: E731
            str(c).ljust(w) for c, w in zip(r, widths)) + " |"
        out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += [line(r) for r in self.rows]
        return "\n".join(out)


def fmt_s(s):
    return "%.2f s" % s if s >= 1 else "%.0f ms" % (s * 1e3)


class Rows:
    """What the rows are judged with: the table, the sizes, the machine's
    limits (GB/s, GFLOP/s) and J, which turns a comparison into a verdict
    (None, no verdict, with --quick)."""

    def __init__(self, table, sizes, gbps, gflops, judge, fma_gflops=None):
        self.t = table
        self.S = sizes
        self.gbps = gbps
        self.gflops = gflops
        self.fma_gflops = fma_gflops
        self.J = (lambda ok: ok) if judge else (lambda ok: None)

    def bw_bound(self, nn, dd, kk):
        return kk * nn * dd * 4 / (self.gbps * 1e9)


def add_kcenter_rows(R, e_clus, e_unif, np_res):
    """N x d, no pool, clustered and uniform: vs numpy and the bandwidth."""
    t, J = R.t, R.J
    n, d, k = R.S["n"], R.S["d"], R.S["k"]
    for kind, e in (("clustered", e_clus), ("uniform", e_unif)):
        size = "N=%d d=%d k=%d %s" % (n, d, k, kind)
        npr = np_res.get(kind)
        for mode in ("exact", "pruned"):
            r = e["by_mode"][mode]
            if npr:
                sp = npr["kcenter_s"] / r["kcenter_s"]
                t.add("%s, %s vs numpy" % (size, mode), fmt_s(r["kcenter_s"]),
                      "numpy %s (%s)" % (fmt_s(npr["kcenter_s"]),
                                         compare_picks(r["picks_list"],
                                                       npr["picks_list"])),
                      "%.1fx faster" % sp, ">= 8x", J(sp >= 8))
            npo = np_res.get("clustered_other")
            if kind == "clustered" and npo:
                kk = npo["k"]
                per_pick = npo["picks_s"] / max(1, kk - 1)
                est = npo["start_s"] + per_pick * (k - 1)
                t.add("  %s vs numpy, %s form (extrapolated)"
                      % (mode, npo["form"]), fmt_s(r["kcenter_s"]),
                      "numpy ~%s (k=%d run, %.2f ms/pick; %s)"
                      % (fmt_s(est), kk, per_pick * 1e3,
                         compare_picks(r["picks_list"][:kk],
                                       npo["picks_list"])),
                      "~%.1fx faster" % (est / r["kcenter_s"]), "(info)")
            b = R.bw_bound(n, d, k)
            t.add("%s, %s vs bandwidth" % (size, mode), fmt_s(r["kcenter_s"]),
                  "bound %s" % fmt_s(b), "%.2fx bound" % (r["kcenter_s"] / b),
                  "<= 2x", J(r["kcenter_s"] <= 2 * b))


def add_pool_rows(R, e, e_pool_bt, npr, threads):
    """The pool phase against the sgemm bound; k-center after it."""
    t, J = R.t, R.J
    n, d, p = R.S["n"], R.S["d"], R.S["p"]
    pool_s = e["pool_add_s"] + e["pool_search_s"]
    b = 2.0 * n * p * d / (R.gflops * 1e9)
    flop = 2.0 * n * p * d
    t.add("pool phase N=%d P=%d d=%d (add+search)" % (n, p, d),
          "%s (add %s; %.0f GFLOP/s)" % (fmt_s(pool_s),
                                         fmt_s(e["pool_add_s"]),
                                         flop / pool_s / 1e9),
          "sgemm bound %s" % fmt_s(b), "%.2fx bound" % (pool_s / b),
          "<= 2x", J(pool_s <= 2 * b))
    # The search alone against the FMA peak: fused (the server's path)
    # and FAISS's k=1 search, side by side in the same run.
    peak = R.fma_gflops
    for label, s, goal in (
            ("fused search (server)", e["pool_search_s"], ">= 60% FMA peak"),
            ("FAISS IndexFlatL2 k=1 search", e["pool_faiss_search_s"],
             "(info)")):
        g = flop / s / 1e9
        t.add("  pool %s" % label,
              "%s (%.1f GFLOP/s)" % (fmt_s(s), g),
              "FMA peak %.1f GFLOP/s" % peak, "%.0f%% of peak" % (100 * g / peak),
              goal, J(g >= 0.6 * peak) if goal != "(info)" else None)
    t.add("  fused vs FAISS search, same rows",
          "%d of %d rows agree" % (e["pool_rows_agree"], n),
          "max |d2 diff| %.3g" % e["pool_max_sq_diff"],
          "%.1fx faster" % (e["pool_faiss_search_s"] / e["pool_search_s"]),
          "(info)")
    bt = e_pool_bt["pool_faiss_add_s"] + e_pool_bt["pool_faiss_search_s"]
    t.add("  what-if: FAISS search with BLAS on %d threads" % threads,
          "%s (%.0f GFLOP/s)" % (fmt_s(bt), flop / bt / 1e9),
          "sgemm bound %s" % fmt_s(b), "%.2fx bound" % (bt / b),
          "(info)")
    if npr:
        t.add("  pool phase, numpy @ in blocks", fmt_s(npr["pool_s"]),
              "engine %s" % fmt_s(pool_s),
              "%.1fx faster" % (npr["pool_s"] / pool_s), "(info)")
    for mode in ("exact", "pruned", "auto"):
        r = e["by_mode"][mode]
        ref = ("numpy %s (%s)" % (fmt_s(npr["kcenter_s"]), compare_picks(
            r["picks_list"], npr["picks_list"])) if npr else "")
        t.add("  k-center after the pool, %s" % mode,
              fmt_s(r["kcenter_s"]), ref,
              "%.1fx faster" % (npr["kcenter_s"] / r["kcenter_s"])
              if npr else "", "(info)")


def add_big_rows(R, e_big, npr):
    """The big case: bandwidth bound, peak RSS, numpy extrapolated."""
    t, J = R.t, R.J
    bn, bd, bk = R.S["big_n"], R.S["big_d"], R.S["big_k"]
    size = "N=%d d=%d k=%d clustered" % (bn, bd, bk)
    b = R.bw_bound(bn, bd, bk)
    cand_bytes = bn * bd * 4
    rss_goal = 1.5 * cand_bytes + 300 * MB
    for mode in ("exact", "pruned", "auto"):
        r = e_big[mode]["by_mode"][mode]
        t.add("%s, %s vs bandwidth" % (size, mode), fmt_s(r["kcenter_s"]),
              "bound %s" % fmt_s(b), "%.2fx bound" % (r["kcenter_s"] / b),
              "<= 2x", J(r["kcenter_s"] <= 2 * b))
        if mode == "exact":
            t.add("%s, exact vs bandwidth (issue 16)" % size,
                  fmt_s(r["kcenter_s"]), "bound %s" % fmt_s(b),
                  "%.2fx bound" % (r["kcenter_s"] / b), "<= 1.3x",
                  J(r["kcenter_s"] <= 1.3 * b))
        rss = e_big[mode]["peak_rss_kib"] * 1024
        t.add("%s, %s peak RSS" % (size, mode), "%.0f MB" % (rss / MB),
              "limit %.0f MB (cand %.0f MB)" % (rss_goal / MB,
                                               cand_bytes / MB),
              "%.2fx limit" % (rss / rss_goal),
              "<= 1.5x cand + 300 MB", J(rss <= rss_goal))
        if npr:
            kk = npr["k"]
            per_pick = npr["picks_s"] / max(1, kk - 1)
            est = npr["start_s"] + per_pick * (bk - 1)
            t.add("  %s vs numpy (extrapolated)" % mode,
                  fmt_s(r["kcenter_s"]),
                  "numpy ~%s (k=%d run, %.1f ms/pick x %d; %s)"
                  % (fmt_s(est), kk, per_pick * 1e3, bk - 1,
                     compare_picks(r["picks_list"][:kk],
                                   npr["picks_list"])),
                  "~%.1fx faster" % (est / r["kcenter_s"]), "(info)")


def add_prune_row(R, label, ex, pr):
    """Pruned against exact: distance evaluations and the picks."""
    ev_x, ev_p = ex["distance_evaluations"], pr["distance_evaluations"]
    same = ex["picks_list"] == pr["picks_list"]
    red = ev_x / max(1, ev_p)
    R.t.add("pruning, %s" % label,
            "%.3g evals (%.2fx faster)" % (ev_p, ex["kcenter_s"] /
                                           pr["kcenter_s"]),
            "exact %.3g evals" % ev_x,
            "%.2fx fewer, picks %s" % (red, "identical" if same
                                       else "DIFFER"),
            ">= 3x, identical" if label.endswith("clustered")
            or "clustered" in label else "(info)",
            R.J(red >= 3 and same) if "clustered" in label else None)


def add_prune_rows(R, eng, skip):
    n, d = R.S["n"], R.S["d"]
    add_prune_row(R, "N=%d d=%d clustered" % (n, d),
                  eng["clustered"]["by_mode"]["exact"],
                  eng["clustered"]["by_mode"]["pruned"])
    add_prune_row(R, "N=%d d=%d uniform" % (n, d),
                  eng["uniform"]["by_mode"]["exact"],
                  eng["uniform"]["by_mode"]["pruned"])
    if "pool" not in skip:
        add_prune_row(R, "N=%d d=%d + pool, clustered" % (n, d),
                      eng["pool"]["by_mode"]["exact"],
                      eng["pool"]["by_mode"]["pruned"])
    if "big" not in skip:
        add_prune_row(R, "N=%d d=%d clustered" % (R.S["big_n"],
                                                  R.S["big_d"]),
                      eng["big"]["exact"]["by_mode"]["exact"],
                      eng["big"]["pruned"]["by_mode"]["pruned"])


def passes(r):
    return "%d/%d passes pruned" % (r.get("pruned_passes", 0),
                                    r.get("passes", 0))


def add_prune_pays_rows(R, eng, skip):
    """Wall time, side by side: pruned against exact on clustered data
    (>= 1.5x), and the automatic choice (the server's default) where it
    should prune and where it should not."""
    n, d = R.S["n"], R.S["d"]
    cases = [("N=%d d=%d clustered" % (n, d), eng["clustered"]["by_mode"],
              True)]
    if "big" not in skip:
        big = {m: eng["big"][m]["by_mode"][m] for m in eng["big"]}
        cases.append(("N=%d d=%d clustered" % (R.S["big_n"], R.S["big_d"]),
                      big, True))
    cases.append(("N=%d d=%d uniform" % (n, d), eng["uniform"]["by_mode"],
                  False))
    if "pool" not in skip:
        cases.append(("N=%d d=%d + pool, clustered" % (n, d),
                      eng["pool"]["by_mode"], False))
    for label, by, should_prune in cases:
        ex = by["exact"]
        for mode in ("pruned", "auto") if should_prune else ("auto",):
            r = by[mode]
            same = r["picks_list"] == ex["picks_list"]
            sp = ex["kcenter_s"] / r["kcenter_s"]
            if should_prune:
                goal, ok = ">= 1.5x, identical", sp >= 1.5 and same
            else:
                goal, ok = "<= 1.1x exact, identical", sp >= 1 / 1.1 and same
            R.t.add("%s vs exact, %s" % (mode, label),
                    "%s (%s)" % (fmt_s(r["kcenter_s"]), passes(r)),
                    "exact %s" % fmt_s(ex["kcenter_s"]),
                    "%.2fx faster, picks %s"
                    % (sp, "identical" if same else "DIFFER"),
                    goal, R.J(ok))


def build_table(args, S, skip, judge, res, np_res):
    """Every row, in order: k-center, pool, big, pruning, gRPC."""
    t = Table()
    R = Rows(t, S, res["bandwidth"]["read_gbps"], res["sgemm"]["gflops"],
             judge, res["fma"]["gflops"])
    eng = res["engine"]
    add_kcenter_rows(R, eng["clustered"], eng["uniform"], np_res)
    if "pool" not in skip:
        add_pool_rows(R, eng["pool"], eng["pool_blas_threads"],
                      np_res.get("pool"), args.threads)
    if "big" not in skip:
        add_big_rows(R, eng["big"], np_res.get("big"))
    add_prune_rows(R, eng, skip)
    add_prune_pays_rows(R, eng, skip)
    g = res.get("grpc")
    if g is not None:
        ratio = g["rpc_s"] / g["engine_s"]
        t.add("SelectStream N=%d d=%d k=%d clustered, dry run"
              % (S["grpc_n"], S["d"], S["k"]), fmt_s(g["rpc_s"]),
              "in-process %s (picks %s)" % (fmt_s(g["engine_s"]), g["picks"]),
              "%.2fx" % ratio, "<= 1.5x", R.J(ratio <= 1.5))
    return t


def print_report(args, res, np_res, t, judge):
    """The header lines, the table and the total, on stdout."""
    mach = res["machine"]
    bw, sg = res["bandwidth"], res["sgemm"]
    (bw0, sg0, fm0), (bw1, sg1, fm1) = res["probes_start"], res["probes_end"]
    fm = res["fma"]
    blas_np = np_res.get("clustered", {}).get("blas", {})
    print()
    print("Greedy k-center benchmark%s, %d threads"
          % (" (--quick: sizes too small to judge)" if args.quick else "",
             args.threads))
    print("machine: %d x %s (%s), %s GiB; load average %.2f at start, "
          "%.2f at end" % (mach["nproc"], mach["cpu"], mach["simd"],
                           mach["mem_gib"], mach["loadavg"][0],
                           mach["loadavg_end"][0]))
    print("probes (best of start/end): read %.1f GB/s (%d threads; %.1f on 1), "
          "sgemm %.1f GFLOP/s (%d threads; %.1f on 1) [%s]"
          % (bw["read_gbps"], args.threads, bw["read_gbps_1thread"],
             sg["gflops"], args.threads, sg["gflops_1thread"], sg["blas"]))
    print("  FMA peak %.1f GFLOP/s (%s, %d threads; %.1f on 1); start %.1f, "
          "end %.1f" % (fm["gflops"], fm["isa"], args.threads,
                        fm["gflops_1thread"], fm0["gflops"], fm1["gflops"]))
    print("  start: read %.1f GB/s, sgemm %.1f GFLOP/s; end: read %.1f GB/s, "
          "sgemm %.1f GFLOP/s" % (bw0["read_gbps"], sg0["gflops"],
                                  bw1["read_gbps"], sg1["gflops"]))
    if blas_np:
        print("numpy %s: %s, core %s, %s threads (OPENBLAS_CORETYPE unset)"
              % (blas_np.get("numpy"), ", ".join(blas_np.get("blas_libs", [])),
                 blas_np.get("openblas_core"),
                 blas_np.get("openblas_threads")))
    print("numpy per-pick form: %s" % (
        "((X - X[s])**2).sum(1)" if args.numpy_form == "sub"
        else "xx - 2 X@X[s] + xx[s]"))
    print()
    print(t.render())
    print()
    print("total %.0f s%s" % (res["total_s"], "" if judge else
                              "; --quick: no PASS/MISS"))


def write_json(path, res):
    """res without the pick lists."""
    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items()
                    if k != "picks_list"}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o
    with open(path, "w") as f:
        json.dump(strip(res), f, indent=1, default=str)
