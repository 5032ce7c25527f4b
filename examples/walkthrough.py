#!/usr/bin/env python3
"""The walk-through in Python, with the SDK (client/python): what a notebook
would do against a running server.

    PYTHONPATH=client/python python3 examples/walkthrough.py SERVER INPUT_ROOT OUT_DIR

SERVER: HOST:PORT of a datapool-server whose --input-dir is INPUT_ROOT,
holding the images of examples/make_images.py (examples/walkthrough.sh
starts such a server and runs this too). OUT_DIR receives the reports
saved locally. Uses the pool "notebook" (replaced if it exists).
"""

import os
import sys

from datapool_client import Client, DatapoolError


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[3].strip())
    server, input_root, out = sys.argv[1:]
    if not os.path.isdir(os.path.join(input_root, "batch1")):
        sys.exit("%s has no batch1/: run examples/make_images.py %s first"
                 % (input_root, input_root))
    with Client(server) as client:
        for leftover in ("notebook", "notebook-night"):  # from an earlier run
            try:
                client.delete(leftover)
            except DatapoolError as e:
                if e.code_name != "NOT_FOUND":
                    raise

        # Two selections; the second adds only what the pool lacks.
        first = client.select("notebook", paths=["batch1"], n_samples=12)
        print("first: %d picks, version %d" % (len(first.selected), first.version))
        phases = []
        second = client.select("notebook", paths=["batch2"], min_distance=0.5,
                               progress=lambda phase, done, total: phases.append(phase))
        scenes = sorted({p.filename.split("/")[1] for p in second.selected})
        print("second: %d picks (%s), stopped by %s; phases %s"
              % (len(second.selected), ", ".join(scenes), second.stop_reason,
                 " > ".join(dict.fromkeys(phases))))

        # The report of the second selection, as data and as a page.
        report = client.report("notebook", html=True)
        counts = report.data["counts"]
        dist = report.data["distance_to_pool"]
        print("report v%d: %d of %d eligible picked; farthest candidate "
              "%.3f before, %.3f after"
              % (report.version, counts["selected"], counts["eligible"],
                 dist["before"]["max"], dist["after"]["max"]))
        print("saved", report.save(os.path.join(out, "notebook-report")))

        # A dry run's report, without touching the pool.
        dry = client.select("notebook", paths=["batch3"], n_samples=5,
                            dry_run=True, report=True)
        print("dry run would pick %d; report saved %s"
              % (len(dry.selected), dry.report.save(os.path.join(out, "dry-run"))))

        # History and restore.
        for v in client.history("notebook"):
            print("  version %d: %d samples%s" % (v.version, v.size,
                                                  " (current)" if v.current else ""))
        restored = client.restore("notebook", 1)
        print("restored version 1 as version %d (%d samples)"
              % (restored.version, restored.size))

        # Merge another pool in.
        client.select("notebook-night", paths=["batch3"], n_samples=8)
        merged = client.merge("notebook", "notebook-night", min_distance=0.05,
                              on_collision="prefix")
        print("merged: pool has %d samples (%d joined)"
              % (merged.pool_size_after, merged.sources[0].merged))
        client.delete("notebook-night")


if __name__ == "__main__":
    main()
