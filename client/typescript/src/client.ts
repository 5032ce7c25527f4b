// The Datapool client: a typed wrapper over the generated service
// descriptors (src/gen, made by `buf generate` with protoc-gen-es) on
// Connect's gRPC transport. Requests are built in requests.ts, results
// converted in types.ts.
import { create } from "@bufbuild/protobuf";
import { type CallOptions, ConnectError, createClient, type Client as ConnectClient } from "@connectrpc/connect";
import {
  Datapool,
  EmbeddingBlock,
  GetPoolRequestSchema,
  GetReportRequestSchema,
  ListHistoryRequestSchema,
  ListPoolsRequestSchema,
  DeletePoolRequestSchema,
  SearchRequestSchema,
  type SearchRequest,
  SelectRequestSchema,
  type SelectRequest,
  type SelectResponse,
} from "./gen/datapool/v1/datapool_pb.js";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
} from "./gen/grpc/health/v1/health_pb.js";
import { Code, DatapoolError, invalidArgument, toDatapoolError } from "./errors.js";
import { listLocalImages } from "./images.js";
import { imageMessages, type ParamsOptions, rowMessages, type Rows, selectionParams, Table } from "./requests.js";
import { connect, type Connection, type TlsOptions } from "./transport.js";
import * as convert from "./types.js";

export const DEFAULT_TARGET = "127.0.0.1:50051";
/** Streamed requests are cut into messages of about this size. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;

/** Called while a call runs: phase ("receiving", "embedding", "selecting",
 * "committing"), done, total (0 when unknown). */
export type ProgressCallback = (phase: string, done: number, total: number) => void;

export interface ClientOptions {
  /** Bearer token, sent as `authorization: Bearer <token>` on every call
   * (servers started with --auth-token-file). */
  token?: string;
  /** undefined/false: plaintext; true: TLS trusting Node's CAs; or
   * TlsOptions (own CA, client certificate for mutual TLS). */
  tls?: boolean | TlsOptions;
  /** Deadline of each call in milliseconds (default 600 000; 0: none). A
   * selection whose deadline passes fails with DEADLINE_EXCEEDED and
   * commits nothing. */
  timeoutMs?: number;
  /** Size of the messages large requests are cut into (default 1 MiB). */
  chunkBytes?: number;
}

/** Candidates (or queries): embeddings, or images the server embeds. */
export interface Candidates {
  /** n rows of d numbers, with one filename per row. */
  embeddings?: Rows;
  filenames?: readonly string[];
  /** Weak labels, one per row (optional). */
  labels?: ReadonlyArray<number | bigint>;
  /** Files or folders under the server's --input-dir, relative to it. */
  paths?: readonly string[];
  /** Local image files or folders, uploaded (a folder's images are named
   * "<folder>/<path inside>" and weakly labelled by first-level
   * subfolder, as the CLI's --upload). */
  images?: readonly string[];
}

export interface SelectOptions extends Candidates, ParamsOptions {
  /** Streams progress (SelectWithProgress); an exception it throws cancels
   * the call, and a cancelled selection commits nothing. */
  progress?: ProgressCallback;
  /** Aborting cancels the call (nothing is committed). */
  signal?: AbortSignal;
}

export interface SearchOptions extends Candidates {
  /** Neighbours per query, 1..1000 (default 5). */
  k?: number;
  signal?: AbortSignal;
}

function checkSources(c: Candidates, what: string): void {
  const images = (c.paths?.length ?? 0) + (c.images?.length ?? 0) > 0;
  if (c.embeddings !== undefined && images) {
    throw invalidArgument(`${what}: give either embeddings or images (paths, images), not both`);
  }
  if (c.embeddings === undefined && !images) {
    throw invalidArgument(
      `${what}: no candidates: give embeddings (with filenames), paths (on the server) or images (local files)`,
    );
  }
  if (c.embeddings === undefined && (c.filenames !== undefined || c.labels !== undefined)) {
    throw invalidArgument("filenames and labels go with embeddings; images are named by their paths");
  }
}

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

/** A connection to a Datapool server. Every method rejects with a
 * DatapoolError carrying the gRPC status code. Call close() when done. */
export class Client {
  readonly target: string;
  /** The generated Connect client, for the calls the wrapper does not cover
   * (embed, merge, restore, train, set-model...). */
  readonly raw: ConnectClient<typeof Datapool>;
  private readonly health_: ConnectClient<typeof Health>;
  private readonly connection: Connection;
  private readonly timeoutMs: number | undefined;
  private readonly chunkBytes: number;

  constructor(target: string = DEFAULT_TARGET, options: ClientOptions = {}) {
    this.target = target;
    const timeout = options.timeoutMs ?? 600_000;
    this.timeoutMs = timeout > 0 ? timeout : undefined;
    this.chunkBytes = Math.max(1024, Math.floor(options.chunkBytes ?? DEFAULT_CHUNK_BYTES));
    this.connection = connect(target, options.tls, options.token);
    this.raw = createClient(Datapool, this.connection.transport);
    this.health_ = createClient(Health, this.connection.transport);
  }

  /** Closes the connection; calls in flight fail. */
  close(): void {
    this.connection.close();
  }

  /** Runs a call with the client's deadline and the caller's signal. The
   * deadline is our own timer (sent to the server as grpc-timeout), not
   * Connect's timeoutMs, whose timer outlives a call the caller aborts
   * (connect-es 2.0.4) and would keep Node running until it fires. */
  private async call<T>(signal: AbortSignal | undefined, run: (options: CallOptions) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const headers: Record<string, string> = {};
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (this.timeoutMs !== undefined) {
      const ms = this.timeoutMs;
      headers["grpc-timeout"] = ms <= 99_999_999 ? `${ms}m` : `${Math.min(99_999_999, Math.ceil(ms / 1000))}S`;
      timer = setTimeout(
        () => controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
        ms,
      );
    }
    try {
      return await run({ signal: controller.signal, headers });
    } catch (e) {
      // The SDK's own errors and the calls' (ConnectError) as
      // DatapoolError; anything else (a progress callback's) unchanged.
      throw e instanceof ConnectError ? toDatapoolError(e) : e;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      // Ends the HTTP/2 stream of a call left before its end (a progress
      // callback that threw); a no-op for a finished call.
      controller.abort();
    }
  }

  /** Selects the most diverse candidates given what the pool holds and,
   * unless dryRun, adds them to the pool (created on first use).
   * Candidates: `embeddings` with `filenames` (and `labels`), or images:
   * `paths` on the server and/or local `images`, uploaded. Stopping:
   * `nSamples` (a count), `nSamplesFraction` (of the eligible
   * candidates, in (0, 1]) and/or `minDistance` (0..2); at least one.
   * Ranking: `strategy` "typical" (the server's default) or "diversity"
   * (plain greedy k-center), or a `selectionConfig` message. */
  async select(pool: string, options: SelectOptions): Promise<convert.SelectResult> {
    checkSources(options, "select");
    const params = selectionParams(pool, options);
    let messages: Iterable<SelectRequest>;
    if (options.embeddings !== undefined) {
      const table = new Table(options.embeddings, options.filenames, options.labels, "embeddings", false);
      messages = rowMessages(
        create(SelectRequestSchema, { params }),
        () => create(SelectRequestSchema),
        (m, block: EmbeddingBlock) => (m.candidates = block),
        table,
        this.chunkBytes,
      );
    } else {
      const uploads = listLocalImages(options.images ?? []);
      messages = imageMessages(
        create(SelectRequestSchema, { params, inputPaths: [...(options.paths ?? [])] }),
        () => create(SelectRequestSchema),
        uploads,
        this.chunkBytes,
      );
    }
    const progress = options.progress;
    return this.call(options.signal, async (callOptions) => {
      const response =
        progress === undefined
          ? await this.raw.selectStream(toAsync(messages), callOptions)
          : await this.withProgress(messages, progress, callOptions);
      return convert.selectResult(response);
    });
  }

  private async withProgress(
    messages: Iterable<SelectRequest>,
    progress: ProgressCallback,
    callOptions: CallOptions,
  ): Promise<SelectResponse> {
    for await (const update of this.raw.selectWithProgress(toAsync(messages), callOptions)) {
      if (update.update.case === "progress") {
        const p = update.update.value;
        progress(p.phase, Number(p.done), Number(p.total));
      } else if (update.update.case === "result") {
        return update.update.value;
      }
    }
    throw new DatapoolError(Code.Unknown, "the server ended SelectWithProgress without a result");
  }

  /** The k nearest pool samples of each query: `embeddings` (named by
   * `filenames`, default query_0, query_1...) or images (`paths`,
   * `images`), not both. */
  async search(pool: string, options: SearchOptions): Promise<convert.SearchResults> {
    checkSources(options, "search");
    const k = options.k ?? 5;
    if (!Number.isInteger(k) || k < 1 || k > 1000) {
      throw invalidArgument(`k must be an integer in 1..1000, got ${k}`);
    }
    let messages: Iterable<SearchRequest>;
    if (options.embeddings !== undefined) {
      const table = new Table(options.embeddings, options.filenames, undefined, "embeddings", true);
      messages = rowMessages(
        create(SearchRequestSchema, { pool, k }),
        () => create(SearchRequestSchema),
        (m, block) => (m.queries = block),
        table,
        this.chunkBytes,
      );
    } else {
      messages = imageMessages(
        create(SearchRequestSchema, { pool, k, inputPaths: [...(options.paths ?? [])] }),
        () => create(SearchRequestSchema),
        listLocalImages(options.images ?? []),
        this.chunkBytes,
      );
    }
    return this.call(options.signal, async (o) => convert.searchResults(await this.raw.search(toAsync(messages), o)));
  }

  /** Every pool on the server. */
  async pools(): Promise<convert.PoolInfo[]> {
    return this.call(undefined, async (o) => {
      const r = await this.raw.listPools(create(ListPoolsRequestSchema), o);
      return r.pools.map(convert.poolInfo);
    });
  }

  /** One pool; NOT_FOUND when it does not exist. */
  async pool(name: string): Promise<convert.PoolInfo> {
    return this.call(undefined, async (o) =>
      convert.poolInfo(await this.raw.getPool(create(GetPoolRequestSchema, { pool: name }), o)),
    );
  }

  /** The pool's kept versions and the current one, oldest first. */
  async history(name: string): Promise<convert.Version[]> {
    return this.call(undefined, async (o) => {
      const r = await this.raw.listHistory(create(ListHistoryRequestSchema, { pool: name }), o);
      return convert.versions(r.versions);
    });
  }

  /** Removes the pool with its history; returns it as it was. */
  async delete(name: string): Promise<convert.PoolInfo> {
    return this.call(undefined, async (o) => {
      const r = await this.raw.deletePool(create(DeletePoolRequestSchema, { pool: name }), o);
      if (r.deleted === undefined) throw new DatapoolError(Code.Unknown, "DeletePool answered no pool");
      return convert.poolInfo(r.deleted);
    });
  }

  /** The selection report of the pool's `version` (default: the newest);
   * report.html too with `html: true`. NOT_FOUND for a missing pool or a
   * version without a report. */
  async report(name: string, options: { version?: number; html?: boolean } = {}): Promise<convert.Report> {
    const version = options.version ?? 0;
    if (options.version !== undefined && (!Number.isInteger(version) || version < 1)) {
      throw invalidArgument(`version must be an integer >= 1 (or unset for the newest), got ${version}`);
    }
    return this.call(undefined, async (o) =>
      convert.report(
        await this.raw.getReport(
          create(GetReportRequestSchema, { pool: name, version: BigInt(version), includeHtml: !!options.html }),
          o,
        ),
      ),
    );
  }

  /** The server's health (grpc.health.v1): "SERVING", "NOT_SERVING"... */
  async health(): Promise<string> {
    return this.call(undefined, async (o) => {
      const r = await this.health_.check(create(HealthCheckRequestSchema), o);
      return HealthCheckResponse_ServingStatus[r.status] ?? "UNKNOWN";
    });
  }
}
