// Building requests from a Client's arguments: validated embedding rows,
// selection parameters, and the messages that stream rows and uploaded
// images in chunks. Refused here is only what cannot be put into a request
// at all (rows that are not a table of numbers, a filename count that does
// not match, a count that is not an integer); the rules on values (a count
// of at least 1, a fraction in (0, 1], ...) are the server's.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  EmbeddingBlockSchema,
  type EmbeddingBlock,
  type ImageChunk,
  ImageChunkSchema,
  SelectionConfigSchema,
  type SelectionParams,
  SelectionParamsSchema,
  SelectionObjective_Input,
  SelectionObjective_Strategy,
} from "./gen/datapool/v1/datapool_pb.js";
import { invalidArgument } from "./errors.js";
import { type LocalImage, readImage } from "./images.js";

/** Embedding rows: n rows of d numbers (arrays or Float32Arrays). */
export type Rows = ReadonlyArray<ArrayLike<number>>;

/** Validated rows, ready to be cut into EmbeddingBlocks. */
export class Table {
  readonly dimension: number;
  readonly filenames: string[];
  readonly labels?: bigint[];

  constructor(
    readonly rows: Rows,
    filenames: readonly string[] | undefined,
    labels: ReadonlyArray<number | bigint> | undefined,
    what: string,
    defaultNames: boolean,
  ) {
    if (!Array.isArray(rows) || rows.length === 0) {
      throw invalidArgument(`${what} must be a non-empty array of rows`);
    }
    const n = rows.length;
    this.dimension = rows[0].length;
    rows.forEach((row, i) => {
      if (row === null || typeof row !== "object" || row.length !== this.dimension) {
        throw invalidArgument(
          `${what} must be ${n} rows of ${this.dimension} numbers; row ${i} is not`,
        );
      }
      for (let j = 0; j < row.length; j++) {
        if (typeof row[j] !== "number") {
          throw invalidArgument(`${what}: row ${i} holds a ${typeof row[j]}, not a number`);
        }
      }
    });
    if (filenames === undefined) {
      if (!defaultNames) throw invalidArgument(`${what} need filenames: one per row`);
      filenames = rows.map((_, i) => `query_${i}`);
    }
    if (filenames.length !== n) {
      throw invalidArgument(
        `${filenames.length} filenames for ${n} rows of ${what}: need one per row`,
      );
    }
    this.filenames = [...filenames];
    if (labels !== undefined) {
      if (labels.length !== n) {
        throw invalidArgument(
          `${labels.length} labels for ${n} rows of ${what}: need one per row (or none)`,
        );
      }
      this.labels = labels.map((x) => toBigInt(x, "label"));
    }
  }

  /** [begin, end) row ranges of about chunkBytes each (at least one). */
  *ranges(chunkBytes: number): Generator<[number, number]> {
    const perChunk = Math.max(1, Math.floor(chunkBytes / (this.dimension * 4 + 64)));
    for (let begin = 0; begin < this.rows.length; begin += perChunk) {
      yield [begin, Math.min(this.rows.length, begin + perChunk)];
    }
  }

  block(begin: number, end: number): EmbeddingBlock {
    const values: number[] = [];
    for (let i = begin; i < end; i++) {
      const row = this.rows[i];
      for (let j = 0; j < row.length; j++) values.push(row[j]);
    }
    return create(EmbeddingBlockSchema, {
      dimension: this.dimension,
      filenames: this.filenames.slice(begin, end),
      values,
      labels: this.labels ? this.labels.slice(begin, end) : [],
    });
  }
}

export function toBigInt(value: number | bigint, what: string): bigint {
  if (typeof value === "bigint") return value;
  if (!Number.isSafeInteger(value)) {
    throw invalidArgument(`${what} must be an integer, got ${value}`);
  }
  return BigInt(value);
}

export interface ParamsOptions {
  nSamples?: number | bigint;
  nSamplesFraction?: number;
  minDistance?: number;
  dryRun?: boolean;
  keepHistory?: boolean;
  weakLabels?: boolean;
  removeDuplicates?: boolean;
  report?: boolean;
  strategy?: "typical" | "diversity";
  selectionConfig?: MessageInitShape<typeof SelectionConfigSchema>;
}

export function selectionParams(pool: string, o: ParamsOptions): SelectionParams {
  if (o.report && !o.dryRun) {
    throw invalidArgument(
      "report: true is for dry runs; a committed selection always writes its report (see Client.report)",
    );
  }
  if (o.nSamples !== undefined && o.nSamplesFraction !== undefined) {
    throw invalidArgument("give nSamples (a count) or nSamplesFraction, not both");
  }
  const params = create(SelectionParamsSchema, {
    pool,
    dryRun: !!o.dryRun,
    keepHistory: o.keepHistory ?? true,
    appendWeakLabels: o.weakLabels ?? true,
    removeDuplicates: o.removeDuplicates ?? true,
    dryRunReport: !!o.report,
  });
  if (o.nSamples !== undefined) {
    const count = toBigInt(o.nSamples, "nSamples");
    if (count < 0n || count >= 1n << 64n) {
      throw invalidArgument(`nSamples ${count} cannot be sent: the request holds an unsigned 64-bit count`);
    }
    params.nSamples = { case: "nSamplesCount", value: count };
  } else if (o.nSamplesFraction !== undefined) {
    params.nSamples = { case: "nSamplesFraction", value: o.nSamplesFraction };
  }
  if (o.minDistance !== undefined) params.minDistance = o.minDistance;
  if (o.strategy !== undefined && o.selectionConfig !== undefined) {
    throw invalidArgument("give strategy or selectionConfig, not both");
  }
  if (o.strategy === "diversity") {
    params.config = create(SelectionConfigSchema, {
      objectives: [
        {
          input: SelectionObjective_Input.EMBEDDINGS,
          strategy: SelectionObjective_Strategy.DIVERSITY,
        },
      ],
    });
  } else if (o.strategy !== undefined && o.strategy !== "typical") {
    throw invalidArgument(
      `strategy must be "typical" or "diversity" (or unset: the server's default, typical), got ${JSON.stringify(o.strategy)}`,
    );
  } else if (o.selectionConfig !== undefined) {
    params.config = create(SelectionConfigSchema, o.selectionConfig);
  }
  return params;
}

/** A request message that can carry uploaded image chunks. */
interface WithImages {
  images: ImageChunk[];
}

/** `first` (holding the parameters), then messages made by `make`, carrying
 * the uploads in chunks of about chunkBytes; files are read one at a time,
 * as the stream is consumed. */
export function* imageMessages<M extends WithImages>(
  first: M,
  make: () => M,
  uploads: readonly LocalImage[],
  chunkBytes: number,
): Generator<M> {
  let message = first;
  let size = 0;
  let sentFirst = false;
  for (const image of uploads) {
    const data = readImage(image);
    let offset = 0;
    do {
      const room = Math.max(chunkBytes - size, 1);
      const take = Math.min(room, data.length - offset);
      const chunk = create(ImageChunkSchema, { data: data.subarray(offset, offset + take) });
      if (offset === 0) {
        chunk.filename = image.filename;
        chunk.label = BigInt(image.label);
      }
      offset += take;
      chunk.last = offset === data.length;
      message.images.push(chunk);
      size += take + image.filename.length + 16;
      if (size >= chunkBytes) {
        yield message;
        sentFirst = true;
        message = make();
        size = 0;
      }
    } while (offset < data.length);
  }
  if (size > 0 || !sentFirst) yield message;
}

/** `first` (holding the parameters) carrying the first block of rows in
 * `field`, then one message per further block. */
export function* rowMessages<M>(
  first: M,
  make: () => M,
  set: (message: M, block: EmbeddingBlock) => void,
  table: Table,
  chunkBytes: number,
): Generator<M> {
  let message = first;
  for (const [begin, end] of table.ranges(chunkBytes)) {
    set(message, table.block(begin, end));
    yield message;
    message = make();
  }
}
