// DatapoolError: every failure of a Client call, carrying the gRPC status
// code (as the Python SDK's DatapoolError).
import { Code, ConnectError } from "@connectrpc/connect";

export { Code };

/** gRPC's name of a status code ("NOT_FOUND"); Connect's Code enum names
 * them in camel case and spells CANCELLED with one L. */
export function codeName(code: Code): string {
  if (code === Code.Canceled) return "CANCELLED";
  const name = Code[code];
  if (name === undefined) return "UNKNOWN";
  return name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** A failed call. `code`: the gRPC status code (Connect's `Code`, whose
 * numbers are gRPC's); `codeName`: its gRPC name ("NOT_FOUND");
 * `message`: the server's (or the SDK's) explanation. */
export class DatapoolError extends Error {
  readonly code: Code;
  readonly codeName: string;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatapoolError";
    this.code = code;
    this.codeName = codeName(code);
  }

  override toString(): string {
    return `${this.codeName}: ${this.message}`;
  }
}

export function invalidArgument(message: string): DatapoolError {
  return new DatapoolError(Code.InvalidArgument, message);
}

/** Any error of a call as a DatapoolError. */
export function toDatapoolError(error: unknown): DatapoolError {
  if (error instanceof DatapoolError) return error;
  const connect = ConnectError.from(error);
  return new DatapoolError(connect.code, connect.rawMessage, { cause: error });
}
