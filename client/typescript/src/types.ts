// The results of Client calls, converted from the generated messages:
// counts as numbers (they stay far below 2^53), enums as strings, the
// report's JSON parsed. The names follow the Python SDK's dataclasses.
import type {
  HistoryEntry,
  PoolInfo as PoolInfoMessage,
  SearchResponse,
  SelectionReport,
  SelectResponse,
  SkippedFile,
} from "./gen/datapool/v1/datapool_pb.js";
import { StopReason as StopReasonEnum } from "./gen/datapool/v1/datapool_pb.js";

/** A file the server could not use, with the reason. */
export interface Skipped {
  filename: string;
  reason: string;
}

/** A pick: distance to the nearest pool sample or earlier pick when it was
 * picked (undefined for the first pick into an empty pool). */
export interface Pick {
  filename: string;
  distance?: number;
  label: number;
}

/** A candidate dropped as an exact duplicate of an earlier one. */
export interface Duplicate {
  filename: string;
  sameAs: string;
}

/** A selection report: version, folder on the server ("" for a dry run),
 * data (report.json parsed; undefined when not fetched), html (report.html,
 * "" unless asked for), error (why a committed selection's report could
 * not be written), json (report.json as the server wrote it). */
export interface Report {
  version: number;
  folder: string;
  data?: Record<string, unknown>;
  html: string;
  error: string;
  json: string;
}

export type StopReason = "n_samples" | "min_distance" | "exhausted" | "unspecified";

export interface SelectResult {
  /** In pick order. */
  selected: Pick[];
  /** The picks' filenames, in pick order. */
  filenames: string[];
  skipped: Skipped[];
  stopReason: StopReason;
  version: number;
  committed: boolean;
  poolSizeBefore: number;
  poolSizeAfter: number;
  candidatesReceived: number;
  candidatesAlreadyInPool: number;
  duplicatesRemoved: number;
  duplicates: Duplicate[];
  /** Left out by a THRESHOLD objective. */
  candidatesFiltered: number;
  /** Committed: where the report was written (folder); dry run with
   * `report: true`: the report itself. */
  report?: Report;
}

export interface PoolInfo {
  name: string;
  size: number;
  dimension: number;
  version: number;
  /** RFC 3339 UTC. */
  createdTime: string;
  updatedTime: string;
  /** The pool's folder on the server. */
  folder: string;
  normalized: boolean;
  /** "" when clients supplied the embeddings. */
  modelFingerprint: string;
  inputSize: number;
  /** "" for a healthy pool; else what is wrong and how to repair it. */
  problem: string;
}

export interface Neighbor {
  filename: string;
  /** Between the unit-normalised embeddings, 0..2. */
  distance: number;
  label: number;
}

export interface QueryResult {
  query: string;
  /** Nearest first. */
  neighbors: Neighbor[];
}

export interface SearchResults {
  /** One per query, in order. */
  results: QueryResult[];
  skipped: Skipped[];
}

export interface Version {
  version: number;
  /** RFC 3339 UTC. */
  time: string;
  size: number;
  /** Relative to the pool folder. */
  csvFile: string;
  /** True for datapool_latest.csv. */
  current: boolean;
}

const STOP_REASONS: Record<number, StopReason> = {
  [StopReasonEnum.N_SAMPLES]: "n_samples",
  [StopReasonEnum.MIN_DISTANCE]: "min_distance",
  [StopReasonEnum.EXHAUSTED]: "exhausted",
};

export function skipped(items: readonly SkippedFile[]): Skipped[] {
  return items.map((s) => ({ filename: s.filename, reason: s.reason }));
}

export function report(r: SelectionReport): Report {
  return {
    version: Number(r.version),
    folder: r.folder,
    data: r.json ? (JSON.parse(r.json) as Record<string, unknown>) : undefined,
    html: r.html,
    error: r.error,
    json: r.json,
  };
}

export function selectResult(r: SelectResponse): SelectResult {
  const selected = r.selected.map((p) => {
    const pick: Pick = { filename: p.filename, label: Number(p.label) };
    if (p.distance !== undefined) pick.distance = p.distance;
    return pick;
  });
  return {
    selected,
    filenames: selected.map((p) => p.filename),
    skipped: skipped(r.skipped),
    stopReason: STOP_REASONS[r.stopReason] ?? "unspecified",
    version: Number(r.version),
    committed: r.committed,
    poolSizeBefore: Number(r.poolSizeBefore),
    poolSizeAfter: Number(r.poolSizeAfter),
    candidatesReceived: Number(r.candidatesReceived),
    candidatesAlreadyInPool: Number(r.candidatesAlreadyInPool),
    duplicatesRemoved: Number(r.duplicatesRemoved),
    duplicates: r.duplicates.map((d) => ({ filename: d.filename, sameAs: d.sameAs })),
    candidatesFiltered: Number(r.candidatesFiltered),
    report: r.report ? report(r.report) : undefined,
  };
}

export function poolInfo(p: PoolInfoMessage): PoolInfo {
  return {
    name: p.name,
    size: Number(p.size),
    dimension: p.dimension,
    version: Number(p.version),
    createdTime: p.createdTime,
    updatedTime: p.updatedTime,
    folder: p.folder,
    normalized: p.normalized,
    modelFingerprint: p.modelFingerprint,
    inputSize: p.inputSize,
    problem: p.problem,
  };
}

export function searchResults(r: SearchResponse): SearchResults {
  return {
    results: r.results.map((q) => ({
      query: q.query,
      neighbors: q.neighbors.map((n) => ({
        filename: n.filename,
        distance: n.distance,
        label: Number(n.label),
      })),
    })),
    skipped: skipped(r.skipped),
  };
}

export function versions(entries: readonly HistoryEntry[]): Version[] {
  return entries.map((v) => ({
    version: Number(v.version),
    time: v.time,
    size: Number(v.size),
    csvFile: v.csvFile,
    current: v.current,
  }));
}
