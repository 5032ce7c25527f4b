"""soak.py's checks at the end: every acknowledged pick in the pools' CSVs,
the disk use of the shared folder and of each pool, and what the final,
freshly started server says of each pool."""

import csv
import os
from pathlib import Path

import grpc

from soak_server import tree_bytes


def read_csv_names(path):
    """Filenames (first column) of a datapool_latest.csv, in order."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or header[0] != "filenames":
            raise ValueError("%s: first column is %r, not 'filenames'"
                             % (path, header[0] if header else None))
        return [row[0] for row in reader if row]


def check_durability(shared, stats):
    """Per pool: acknowledged picks, those missing from the CSV, rows,
    duplicates, rows that were never acknowledged (answers lost to a kill)."""
    out = {}
    pools = set(stats.acked) | {
        p for p in os.listdir(shared)
        if (Path(shared) / p / "datapool_latest.csv").is_file()}
    for pool in sorted(pools):
        path = Path(shared) / pool / "datapool_latest.csv"
        acked = stats.acked.get(pool, set())
        entry = {"acked": len(acked)}
        try:
            names = read_csv_names(path)
        except (OSError, ValueError) as e:
            entry.update(error=str(e), missing=len(acked))
            out[pool] = entry
            continue
        present = set(names)
        missing = acked - present
        entry.update(rows=len(names), duplicates=len(names) - len(present),
                     missing=len(missing),
                     missing_examples=sorted(missing)[:10],
                     unacknowledged_rows=len(present - acked),
                     highest_acked_version=stats.acked_version.get(pool, 0))
        out[pool] = entry
    return out


def disk_report(shared, pool_infos):
    total, alloc, files = tree_bytes(shared)
    pools = {}
    for pool in sorted(os.listdir(shared)):
        folder = Path(shared) / pool
        if not (folder / "datapool_latest.csv").is_file():
            continue
        pools[pool] = pool_disk(folder, pool_infos.get(pool, {}))
    return {"shared_bytes": total, "shared_allocated": alloc,
            "shared_files": files, "pools": pools}


def pool_disk(folder, info):
    """One pool folder's bytes: latest CSV, history/, reports/; versions
    without a report; temporary files left."""
    h_bytes, _, h_files = (tree_bytes(folder / "history")
                           if (folder / "history").is_dir() else (0, 0, 0))
    h_csv = (len([n for n in os.listdir(folder / "history")
                  if n.endswith(".csv")])
             if (folder / "history").is_dir() else 0)
    r_bytes, _, r_files = (tree_bytes(folder / "reports")
                           if (folder / "reports").is_dir() else (0, 0, 0))
    r_names = (os.listdir(folder / "reports")
               if (folder / "reports").is_dir() else [])
    r_count = len(r_names)
    p_bytes, p_alloc, p_files = tree_bytes(folder)
    latest = (folder / "datapool_latest.csv").stat().st_size
    versions = info.get("version") or 0
    temps = [n for n in os.listdir(folder) if ".tmp-" in n]
    # Versions without a report since the oldest one kept (retention,
    # --keep-reports, removes older ones): the report is written after
    # the commit, so a kill in between leaves a version without one.
    kept = {int(n) for n in r_names if n.isdigit()}
    no_report = sorted(set(range(min(kept, default=1), versions + 1)) -
                       kept)
    return {
        "versions": versions, "rows": info.get("size"),
        "bytes": p_bytes, "allocated": p_alloc, "files": p_files,
        "latest_csv_bytes": latest,
        "history_bytes": h_bytes, "history_files": h_files,
        "history_csvs": h_csv,
        "reports_bytes": r_bytes, "reports_files": r_files,
        "reports": r_count,
        "versions_without_report": no_report,
        "bytes_per_version": p_bytes / versions if versions else None,
        "history_bytes_per_kept_version": (h_bytes / h_csv
                                           if h_csv else None),
        "report_bytes_per_report": r_bytes / r_count if r_count else None,
        "temp_files_left": temps}


def final_check(sup, pb2, rpc, deadline):
    """On the fresh final server: every pool loads; its size and version."""
    address, _ = sup.current()
    channel = grpc.insecure_channel(address)
    stub = rpc.DatapoolStub(channel)
    infos, problems = {}, []
    try:
        listed = stub.ListPools(pb2.ListPoolsRequest(), timeout=deadline)
        for p in listed.pools:
            info = stub.GetPool(pb2.GetPoolRequest(pool=p.name),
                                timeout=deadline)
            history = stub.ListHistory(pb2.ListHistoryRequest(pool=p.name),
                                       timeout=deadline)
            infos[p.name] = {"size": info.size, "version": info.version,
                             "dimension": info.dimension,
                             "history_entries": len(history.versions)}
    except grpc.RpcError as e:
        problems.append("final check: %s %s" % (e.code().name, e.details()))
    finally:
        channel.close()
    return infos, problems

