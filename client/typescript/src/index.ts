// TypeScript/Node client of the Datapool service (datapool.v1).
//
//   import { Client } from "datapool-client";
//   const client = new Client("127.0.0.1:50051");
//   const result = await client.select("my_pool", { embeddings, filenames, nSamples: 100 });
//   client.close();
export {
  Client,
  DEFAULT_CHUNK_BYTES,
  DEFAULT_TARGET,
  type Candidates,
  type ClientOptions,
  type ProgressCallback,
  type SearchOptions,
  type SelectOptions,
} from "./client.js";
export { Code, DatapoolError, codeName } from "./errors.js";
export { type LocalImage, listLocalImages } from "./images.js";
export type { ParamsOptions, Rows } from "./requests.js";
export type { TlsOptions } from "./transport.js";
export type {
  Duplicate,
  Neighbor,
  Pick,
  PoolInfo,
  QueryResult,
  Report,
  SearchResults,
  SelectResult,
  Skipped,
  StopReason,
  Version,
} from "./types.js";
/** The generated messages and service descriptors (protobuf-es v2). */
export * as pb from "./gen/datapool/v1/datapool_pb.js";
export const VERSION = "0.1.0";
