#!/usr/bin/python3
"""Training (issue 15): does the server's self-supervised training (SimCLR,
`Client.train`) give a model whose neighbourhoods beat the built-in model's
and raw pixels', and how fast does it train against a Python peer?

Data sets (train_data.py): scikit-learn's digits (all 1,797), the first
--fashion-n Fashion-MNIST training images (Debian's dataset-fashion-mnist;
skipped when absent) and --shapes-n generated photo-like 64x64 images in six
classes (the label is the generating class). Each set is written as PNGs
into the server's --input-dir and made a pool of all of them (`select`
with n_samples = all, strategy diversity, duplicates kept); then
`train(pool, epochs=...)` and `embed(paths=..., pool=pool)` give the trained
model's embeddings. --epochs E1,E2,... are cumulative: the pool is trained
E1 epochs, measured, then trained on (the pool's trained checkpoint
continued) to E2, measured, and so on.

Per data set and space (raw pixels, the built-in model, the trained model
after each E), all rows unit length:
  - leave-one-out 1-NN accuracy (each image labelled by its nearest other);
  - the default selection mode's picks at a --budget (1%) of N: a dry-run
    select of b = floor(budget x N) among all rows of that space (the
    SDK's select with embeddings= and dry_run=True, into no pool), only
    the picks labelled, every other image given its nearest pick's label;
    and the mean over --draws random draws of b, for scale.

Throughput: the server's training (TrainResult.images_per_second: images
per second of the training loop, each image two views) against
train_peer.py (the same model, loss, optimiser, batch, 64 px and
augmentations in python3-torch, torch threads 2; views made by a
DataLoader with 2 worker processes, and, a second peer, in the training
process), on the same --tput-images generated images for the same number
of steps, interleaved --rounds times; medians. The target compares the
server (a process that has trained before) with the faster peer's rate
after its first 5 steps (a new process is slow at first); the ratio
against whole peer runs is printed too.

Targets (issue 15): built-in >= raw pixels; trained >= the old untrained
ResNet-18 + 10 points (its LOO 1-NN: digits 0.9221, fashion5000 0.7246,
bench/README.md) and as far above raw pixels as possible; training
>= 1.3x the peer's images/s.

    /usr/bin/python3 bench/train_bench.py [--epochs 1,3] [--batch-size 32]
        [--datasets digits,fashion,shapes] [--fashion-n 5000]
        [--shapes-n 2400] [--budget 1] [--tput-images 960] [--rounds 2]
        [--quick] [--server-bin PATH] [--json-out FILE] [--strict]

Needs Debian's python3-torch, python3-sklearn, python3-numpy,
python3-grpcio, python3-opencv (no torchvision); downloads nothing. The
default run takes about 8 minutes on 2 vCPUs, --quick about a minute.
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in tests/python or bench/
import numpy as np  # noqa: E402

import benchlib  # noqa: E402
from benchlib import log  # noqa: E402
from embedding_quality import quality  # noqa: E402
from machine_use import MachineUse  # noqa: E402
from selection_data import unit  # noqa: E402
from selection_methods import one_nn_accuracy, random_picks  # noqa: E402
import selection_server as srv  # noqa: E402
import train_data as data  # noqa: E402

BENCH = Path(__file__).resolve().parent
# The old built-in model (untrained ResNet-18, 32-d): LOO 1-NN from
# bench/README.md, "The built-in model (issue 15)".
OLD_MODEL = {"digits": 0.9221, "fashion5000": 0.7246}
TARGET_POINTS = 0.10
TARGET_RATIO = 1.3


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", default="1,3",
                    help="cumulative epochs at which the trained model is "
                         "measured, comma-separated, increasing")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0,
                    help="train seeds (seed + stage), random draws")
    ap.add_argument("--datasets", default="digits,fashion,shapes",
                    help="comma-separated; none: only the throughput")
    ap.add_argument("--temperature", type=float,
                    help="train's temperature (default: the server's)")
    ap.add_argument("--learning-rate", type=float,
                    help="train's learning rate (default: the server's)")
    ap.add_argument("--augment", default="",
                    help="train's augment, KEY=V,... with TrainAugmentation's "
                         "field names, e.g. crop_min_scale=0.4 (default: the "
                         "server's)")
    ap.add_argument("--fashion-n", type=int, default=5000)
    ap.add_argument("--shapes-n", type=int, default=2400)
    ap.add_argument("--budget", type=float, default=1.0,
                    help="selection budget in %% of N")
    ap.add_argument("--draws", type=int, default=20,
                    help="random draws at the budget")
    ap.add_argument("--tput-images", type=int, default=960,
                    help="generated images for the throughput rounds (one "
                         "epoch each: tput-images / batch-size steps)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="throughput rounds (server, then peer)")
    ap.add_argument("--peer-workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2,
                    help="the peer's torch threads; the server gets "
                         "--threads too (its trainer uses all cores)")
    ap.add_argument("--quick", action="store_true",
                    help="digits and 1,200 shapes, 1 epoch, one round of "
                         "320 images: about a minute")
    ap.add_argument("--server-bin", type=Path)
    ap.add_argument("--json-out", type=Path)
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 when a target is missed")
    args = ap.parse_args()
    if args.quick:
        args.datasets, args.shapes_n, args.epochs = "digits,shapes", 1200, "1"
        args.tput_images, args.rounds = 320, 1
    try:
        args.epochs = [int(e) for e in args.epochs.split(",")]
    except ValueError:
        ap.error("--epochs: comma-separated integers")
    if not args.epochs or args.epochs[0] < 1 or any(
            b <= a for a, b in zip(args.epochs, args.epochs[1:])):
        ap.error("--epochs: increasing, from 1")
    args.datasets = [s.strip() for s in args.datasets.split(",")
                     if s.strip() and s.strip() != "none"]
    if set(args.datasets) - {"digits", "fashion", "shapes"}:
        ap.error("--datasets: digits, fashion and/or shapes, or none")
    if not args.datasets and not args.rounds:
        ap.error("nothing to do: --datasets none and --rounds 0")
    if args.batch_size < 2 or args.tput_images < args.batch_size:
        ap.error("--batch-size >= 2 and --tput-images >= --batch-size")
    if not 0 < args.budget <= 90 or args.draws < 2 or args.rounds < 0:
        ap.error("--budget in (0, 90], --draws >= 2, --rounds >= 0")
    try:
        args.augment = {k.strip(): float(v) for k, v in (
            item.split("=", 1) for item in args.augment.split(",")
            if item.strip())}
    except ValueError:
        ap.error("--augment: KEY=NUMBER,...")
    if args.server_bin is None:
        args.server_bin = Path(benchlib.binary(
            "DATAPOOL_SERVER_BIN", "build/datapool-server", "train_bench"))
    elif not os.access(args.server_bin, os.X_OK):
        ap.error("--server-bin %s is not executable" % args.server_bin)
    return args


def load_sets(args):
    sets = {}
    if "digits" in args.datasets:
        sets["digits"] = data.digits()
    if "fashion" in args.datasets:
        f = data.fashion(args.fashion_n)
        if f is None:
            log("fashion: skipped: Debian package dataset-fashion-mnist "
                "not installed")
        else:
            sets["fashion%d" % args.fashion_n] = f
    if "shapes" in args.datasets or args.rounds:
        n = max(args.shapes_n if "shapes" in args.datasets else 0,
                args.tput_images if args.rounds else 0)
        t0 = time.perf_counter()
        shapes = data.shapes(n, seed=0)
        log("shapes: %d images generated in %.1f s" % (
            n, time.perf_counter() - t0))
        if "shapes" in args.datasets:
            sets["shapes"] = tuple(a[:args.shapes_n] for a in shapes)
        args.tput_source = shapes[0][:args.tput_images]
    return sets


def png_names(name, n):
    return ["%s/%05d.png" % (name, i) for i in range(n)]


def server_rows(emb, names):
    """emb's rows in the order of names (all must be there)."""
    if emb.skipped:
        raise SystemExit("train_bench: the server skipped %d images: %s"
                         % (len(emb.skipped), emb.skipped[:3]))
    where = {f: k for k, f in enumerate(emb.filenames)}
    missing = [f for f in names if f not in where]
    if missing:
        raise SystemExit("train_bench: %d images missing from embed, "
                         "e.g. %s" % (len(missing), missing[:3]))
    return np.asarray(emb.embeddings)[[where[f] for f in names]]


# The built-in model's dimension (16 x 16 x 3), which a trained model's
# embedding ends with.
BUILTIN_DIM = 768


def tuning(args):
    """train's optional tuning, as given on the command line."""
    kw = {}
    if args.temperature is not None:
        kw["temperature"] = args.temperature
    if args.learning_rate is not None:
        kw["learning_rate"] = args.learning_rate
    if args.augment:
        kw["augment"] = args.augment
    return kw


def make_pool(client, pool, paths, n):
    r = client.select(pool, paths=paths, n_samples=1.0,
                      strategy="diversity", remove_duplicates=False)
    if not r.committed or r.pool_size_after != n:
        raise SystemExit("train_bench: pool %s has %d samples, expected %d"
                         % (pool, r.pool_size_after, n))


def space_scores(client, name, X, y, b, args):
    """LOO 1-NN and the default selection's 1-NN at budget b in space X."""
    q = quality(X, y)
    U = unit(X)
    names = ["s%05d" % i for i in range(len(y))]
    t0 = time.perf_counter()
    r = client.select("nopool-%s" % name, embeddings=U, filenames=names,
                      n_samples=int(b), dry_run=True)
    picks = np.asarray([int(p.filename[1:]) for p in r.selected],
                       dtype=np.int64)
    if len(picks) != b:
        raise SystemExit("train_bench: %s: %d picks, expected %d"
                         % (name, len(picks), b))
    rand = [one_nn_accuracy(U, y, random_picks(np.arange(len(y)), b,
                                               [args.seed, 15, d]))
            for d in range(args.draws)]
    return {"loo": q["acc"], "dim": q["dim"],
            "nn_median": q["nn_median"], "p50": q["p50"],
            "select_acc": one_nn_accuracy(U, y, picks),
            "select_classes": int(len(np.unique(y[picks]))),
            "random_acc": float(np.mean(rand)),
            "random_sd": float(np.std(rand, ddof=1)),
            "select_s": time.perf_counter() - t0}


def run_set(client, name, images, raw, y, args):
    n = len(y)
    b = int(np.floor(args.budget / 100 * n + 1e-9))
    names = png_names(name, n)
    log("%s: %d images, budget %d" % (name, n, b))
    make_pool(client, name, [name], n)
    out = {"n": n, "b": b, "spaces": {}, "train": []}
    out["spaces"]["raw"] = space_scores(client, name, raw, y, b, args)
    X = server_rows(client.embed(paths=[name], pool=name), names)
    out["spaces"]["built-in"] = space_scores(client, name, X, y, b, args)
    done = 0
    for stage, epochs in enumerate(args.epochs):
        t0 = time.perf_counter()
        tr = client.train(name, epochs=epochs - done,
                          batch_size=args.batch_size,
                          seed=args.seed + stage, **tuning(args))
        wall = time.perf_counter() - t0
        done = epochs
        info = {"epochs": epochs, "this_call_epochs": tr.epochs,
                "steps": tr.steps, "train_seconds": tr.train_seconds,
                "call_seconds": wall,
                "images_per_second": tr.images_per_second,
                "first_loss": tr.first_loss, "last_loss": tr.last_loss,
                "continued": tr.continued, "device": tr.device,
                "images": tr.images, "fingerprint":
                tr.pool.model_fingerprint}
        out["train"].append(info)
        log("  train to E=%d: %d steps, %.1f s (call %.1f s), %.1f img/s, "
            "loss %.3f -> %.3f%s" % (
                epochs, tr.steps, tr.train_seconds, wall,
                tr.images_per_second, tr.first_loss, tr.last_loss,
                " (continued)" if tr.continued else ""))
        X = server_rows(client.embed(paths=[name], pool=name), names)
        out["spaces"]["trained E=%d" % epochs] = space_scores(
            client, "%s-e%d" % (name, epochs), X, y, b, args)
        # The trained network's own part (the model's embedding is [its
        # features, the built-in thumbnail], each at unit length).
        if X.shape[1] > BUILTIN_DIM:
            out["spaces"]["network part E=%d" % epochs] = space_scores(
                client, "%s-n%d" % (name, epochs), X[:, :-BUILTIN_DIM], y,
                b, args)
    for space, s in out["spaces"].items():
        log("  %-14s LOO %.4f  select@%d %.4f (random %.4f)"
            % (space, s["loo"], b, s["select_acc"], s["random_acc"]))
    return out


PEERS = (("dataloader", None), ("in-process", 0))  # None: --peer-workers


def peer_run(npy, steps, args, seed, workers):
    cmd = [sys.executable, str(BENCH / "train_peer.py"), "--images",
           str(npy), "--steps", str(steps), "--batch-size",
           str(args.batch_size), "--workers", str(workers),
           "--threads", str(args.threads), "--seed", str(seed)]
    return benchlib.run_json(cmd, "peer (%d workers)" % workers,
                             "  %s: %.1f s")


def throughput(client, inputs, workdir, args):
    """Interleaved rounds: the server trains pool `tput` one epoch, then
    each peer runs as many steps on the same decoded images."""
    images = args.tput_source
    n = len(images)
    steps = n // args.batch_size
    folder = inputs / "tput"
    data.write_pngs(folder, images)
    make_pool(client, "tput", ["tput"], n)
    npy = workdir / "tput.npy"
    np.save(npy, data.as_server_input(images))
    rounds = []
    for r in range(args.rounds):
        t0 = time.perf_counter()
        tr = client.train("tput", epochs=1, batch_size=args.batch_size,
                          seed=100 + r)
        wall = time.perf_counter() - t0
        log("  round %d: server %.1f img/s (loop %.1f s, call %.1f s)"
            % (r, tr.images_per_second, tr.train_seconds, wall))
        row = {"server": {
            "images_per_second": tr.images_per_second,
            "train_seconds": tr.train_seconds, "call_seconds": wall,
            "call_images_per_second": n / wall,
            "steps": tr.steps, "first_loss": tr.first_loss,
            "last_loss": tr.last_loss}}
        for peer, workers in PEERS:
            w = args.peer_workers if workers is None else workers
            row[peer] = peer_run(npy, steps, args, 100 + r, w)
            log("  round %d: peer %s %.1f img/s (steady %.1f, waited %.1f "
                "s for views)" % (r, peer, row[peer]["images_per_second"],
                                  row[peer]["steady_images_per_second"],
                                  row[peer]["data_wait_seconds"]))
        rounds.append(row)

    def med(who, key="images_per_second"):
        return float(np.median([x[who][key] for x in rounds]))
    best_peer = max((p for p, _ in PEERS), key=med)
    best_steady = max(med(p, "steady_images_per_second") for p, _ in PEERS)
    return {"images": n, "steps": steps, "rounds": rounds,
            "server": med("server"),
            "server_call": med("server", "call_images_per_second"),
            "peers": {p: {"median": med(p), "steady": med(
                p, "steady_images_per_second")} for p, _ in PEERS},
            "best_peer": best_peer,
            "ratio": med("server") / med(best_peer),
            "ratio_vs_steady": med("server") / best_steady}


def report(run, args):
    lines = []
    if run["sets"]:
        lines += ["", "LOO 1-NN accuracy, and the default selection's picks "
                  "at %g%% (1-NN from the picks; random: mean of %d draws)"
                  % (args.budget, args.draws), "",
                  "| data set | space | dim | LOO 1-NN | default picks @%g%% "
                  "| random @%g%% |" % (args.budget, args.budget),
                  "|---|---|--:|--:|--:|--:|"]
        for name, s in run["sets"].items():
            for space, v in s["spaces"].items():
                lines.append("| %s | %s | %d | %.4f | %.4f (b=%d, %d classes)"
                             " | %.4f ± %.4f |" % (
                                 name, space, v["dim"], v["loo"],
                                 v["select_acc"], s["b"],
                                 v["select_classes"], v["random_acc"],
                                 v["random_sd"]))
        lines += ["", "| data set | E | steps | train s | call s | img/s "
                  "| loss first -> last epoch |", "|---|--:|--:|--:|--:|--:"
                  "|---|"]
        for name, s in run["sets"].items():
            for t in s["train"]:
                lines.append("| %s | %d | %d | %.1f | %.1f | %.1f | %.3f -> "
                              "%.3f%s |" % (
                                  name, t["epochs"], t["steps"],
                                  t["train_seconds"], t["call_seconds"],
                                  t["images_per_second"], t["first_loss"],
                                  t["last_loss"],
                                  " (continued)" if t["continued"] else ""))
    verdicts = []
    for name, s in run["sets"].items():
        sp = s["spaces"]
        last = sp["trained E=%d" % args.epochs[-1]]["loo"]
        ok = sp["built-in"]["loo"] >= sp["raw"]["loo"]
        verdicts.append(ok)
        lines.append("target %s: built-in %.4f >= raw %.4f: %s" % (
            name, sp["built-in"]["loo"], sp["raw"]["loo"],
            "met" if ok else "MISSED"))
        if name in OLD_MODEL:
            goal = OLD_MODEL[name] + TARGET_POINTS
            ok = last >= goal
            verdicts.append(ok)
            lines.append("target %s: trained E=%d %.4f >= old model %.4f "
                         "+ 10 points = %.4f: %s" % (
                             name, args.epochs[-1], last, OLD_MODEL[name],
                             goal, "met" if ok else "MISSED"))
        lines.append("%s: trained E=%d - raw pixels = %+.2f points (LOO), "
                     "%+.2f points (default picks)" % (
                         name, args.epochs[-1],
                         100 * (last - sp["raw"]["loo"]),
                         100 * (sp["trained E=%d" % args.epochs[-1]]
                                ["select_acc"] - sp["raw"]["select_acc"])))
    t = run.get("throughput")
    if t:
        per = lambda who, key="images_per_second": ", ".join(  # noqa
            "%.1f" % r[who][key] for r in t["rounds"])
        lines += ["", "Training throughput, %d generated images, %d steps "
                  "of %d, median of %d rounds (images/s, each image two "
                  "views)" % (t["images"], t["steps"], args.batch_size,
                              len(t["rounds"])), "",
                  "| | images/s | per round |", "|---|--:|---|",
                  "| server: `train`'s training loop | %.1f | %s |" % (
                      t["server"], per("server")),
                  "| server: the whole call (decode, train, re-embed, "
                  "commit) | %.1f | %s |" % (
                      t["server_call"], per("server",
                                            "call_images_per_second"))]
        for peer, workers in PEERS:
            w = args.peer_workers if workers is None else workers
            what = ("DataLoader, %d worker processes" % w if w else
                    "views made in the training process")
            lines.append("| Python peer: %s, %d threads | %.1f | %s |" % (
                what, args.threads, t["peers"][peer]["median"], per(peer)))
            lines.append("| the same after its first %d steps | %.1f | %s |"
                         % (t["rounds"][0][peer]["warmup_steps"],
                            t["peers"][peer]["steady"],
                            per(peer, "steady_images_per_second")))
        lines.append("| ratio server / the faster peer after its warm-up "
                     "| %.2fx | whole peer runs (%s, with its cold start): "
                     "%.2fx |" % (t["ratio_vs_steady"], t["best_peer"],
                                  t["ratio"]))
        # Warm against warm: the server's process has trained before, each
        # peer run is a new process whose first steps are slow.
        ok = t["ratio_vs_steady"] >= TARGET_RATIO
        verdicts.append(ok)
        lines.append("target: training >= %.1fx the peer (warm): %.2fx: %s"
                     % (TARGET_RATIO, t["ratio_vs_steady"],
                        "met" if ok else "MISSED"))
    m = run["machine"]
    lines.append("machine: %s, %d CPUs, %.0f GiB; other processes used "
                 "%.0f%% of all CPU time during the run%s" % (
                     m["cpu"], m["cpus"], m["mem_gib"],
                     100 * m["others_share"],
                     " (NOISY)" if m["others_share"] > 0.05 else ""))
    return lines, verdicts


def main():
    args = parse_args()
    use = MachineUse()
    t0 = time.perf_counter()
    sets = load_sets(args)
    workdir = Path(tempfile.mkdtemp(prefix="trainbench-"))
    shared, inputs = workdir / "shared", workdir / "input"
    shared.mkdir()
    inputs.mkdir()
    run = {"sets": {}, "args": {k: (str(v) if isinstance(v, Path) else v)
                                for k, v in vars(args).items()
                                if k != "tput_source"}}
    Client = srv.sdk()[0]
    try:
        for name, (images, _, _) in sets.items():
            data.write_pngs(inputs / name, images)
        benchlib.use_test_helpers()
        from server_harness import RunningServer
        with RunningServer(shared, inputs, binary=str(args.server_bin),
                           extra_args=["--device", "cpu", "--threads",
                                       str(args.threads), "--log-level",
                                       "warning"]) as server:
            client = Client(server.address, timeout=3600)
            try:
                for name, (images, raw, y) in sets.items():
                    run["sets"][name] = run_set(client, name, images, raw, y,
                                                args)
                if args.rounds:
                    log("throughput")
                    run["throughput"] = throughput(client, inputs, workdir,
                                                   args)
            finally:
                client.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    shares = use.shares()
    run["machine"] = {"cpu": benchlib.cpu_model(), "cpus": os.cpu_count(),
                      "mem_gib": benchlib.mem_gib(),
                      "others_share": shares.others,
                      "python": platform.python_version()}
    run["wall_s"] = time.perf_counter() - t0
    lines, verdicts = report(run, args)
    print("\n".join(lines))
    log("total %.1f s" % run["wall_s"])
    if args.json_out:
        run.update({
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "git": benchlib.git_rev(), "server_bin": str(args.server_bin),
            "command": " ".join([sys.executable] + sys.argv),
            "numpy": np.__version__,
            "targets_met": all(verdicts)})
        args.json_out.write_text(json.dumps(run, indent=1) + "\n")
    return 1 if args.strict and not all(verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
