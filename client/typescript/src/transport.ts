// The Connect transport of a Client: gRPC over HTTP/2 (plaintext h2c or
// TLS), with the bearer token on every call.
import * as fs from "node:fs";
import type * as http2 from "node:http2";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { invalidArgument } from "./errors.js";

/** TLS settings. Each of ca, cert and key is a PEM file path or the PEM
 * itself (a Buffer/Uint8Array). ca: the CA that signed the server's
 * certificate (unset: Node's default CAs). cert and key: the client's
 * certificate chain and key, for a server that requires mutual TLS (both
 * or neither). serverName: the name to verify the server's certificate
 * against when the target does not carry it (an IP address with a
 * certificate for localhost). */
export interface TlsOptions {
  ca?: string | Uint8Array;
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
  serverName?: string;
}

function pem(value: string | Uint8Array | undefined, what: string): Buffer | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") return Buffer.from(value);
  try {
    return fs.readFileSync(value);
  } catch (e) {
    throw invalidArgument(`cannot read the TLS ${what} ${value}: ${(e as Error).message}`);
  }
}

/** The server's token, as the server checks it: `authorization: Bearer
 * <token>` (server/service/token_auth.cc). */
function bearer(token: string): Interceptor {
  const value = `Bearer ${token}`;
  return (next) => async (req) => {
    req.header.set("authorization", value);
    return next(req);
  };
}

export interface Connection {
  transport: Transport;
  close(): void;
}

/** A transport to "HOST:PORT". tls: undefined/false (plaintext), true
 * (Node's default CAs) or TlsOptions. */
export function connect(
  target: string,
  tls: boolean | TlsOptions | undefined,
  token: string | undefined,
): Connection {
  if (!/^[^/\s]+:\d+$/.test(target)) {
    throw invalidArgument(`target must be HOST:PORT, got ${JSON.stringify(target)}`);
  }
  let baseUrl: string;
  let nodeOptions: http2.SecureClientSessionOptions = {};
  if (tls === undefined || tls === false) {
    baseUrl = `http://${target}`;
  } else {
    const t: TlsOptions = tls === true ? {} : tls;
    if ((t.cert === undefined) !== (t.key === undefined)) {
      throw invalidArgument("TLS: cert and key go together (mutual TLS)");
    }
    baseUrl = `https://${target}`;
    nodeOptions = {
      ca: pem(t.ca, "CA"),
      cert: pem(t.cert, "certificate"),
      key: pem(t.key, "key"),
      servername: t.serverName,
    };
  }
  // Our own session manager, so that close() ends the connection.
  const sessionManager = new Http2SessionManager(baseUrl, {}, nodeOptions);
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager,
    interceptors: token ? [bearer(token)] : [],
  });
  return { transport, close: () => sessionManager.abort() };
}
