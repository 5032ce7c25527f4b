// Test helpers: the real datapool-server on a free loopback port (as
// tests/python/server_harness.py), a test CA and certificates made with
// openssl (as tests/python/pki.py), PNG files, and a seeded random source.
import { spawn, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";

const LISTENING = /^datapool-server: listening on (127\.0\.0\.1:(\d{1,5}))\s*$/;
const STARTUP_MS = 120_000;

/** The server binary (env DATAPOOL_SERVER_BIN), or undefined: the tests
 * are then skipped, unless DATAPOOL_REQUIRE_BINARIES=1 (ctest) fails them. */
export function serverBinary() {
  const bin = process.env.DATAPOOL_SERVER_BIN;
  if (bin && fs.existsSync(bin)) return bin;
  if (process.env.DATAPOOL_REQUIRE_BINARIES === "1") {
    throw new Error(`DATAPOOL_SERVER_BIN (${bin}) is not a file`);
  }
  return undefined;
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Starts the server with its own shared and input folders under `dir`;
 * resolves to { address, port, shared, input, stop(), output() }. */
export async function startServer(dir, extraArgs = []) {
  const shared = path.join(dir, "shared");
  const input = path.join(dir, "input");
  fs.mkdirSync(shared, { recursive: true });
  fs.mkdirSync(input, { recursive: true });
  const args = [
    "--shared-dir", shared, "--input-dir", input,
    "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
    ...extraArgs,
  ];
  const proc = spawn(serverBinary(), args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  const output = () => `--- server stdout ---\n${stdout}\n--- server stderr ---\n${stderr.slice(-20000)}`;
  const address = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`the server did not start in ${STARTUP_MS} ms\n${output()}`));
    }, STARTUP_MS);
    proc.stdout.setEncoding("utf8").on("data", (d) => {
      stdout += d;
      for (const line of stdout.split("\n")) {
        const m = LISTENING.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      }
    });
    proc.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before listening\n${output()}`));
    });
  });
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  return {
    address,
    port: Number(address.split(":")[1]),
    shared,
    input,
    output,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        await exited;
      }
    },
  };
}

function openssl(dir, ...args) {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** ca.pem, server.pem/.key (localhost, 127.0.0.1), client.pem/.key. */
export function makePki(dir) {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(dir, "req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
    "-subj", "/CN=datapool-test-ca");
  const exts = {
    server: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    client: "extendedKeyUsage=clientAuth\n",
  };
  for (const [name, ext] of Object.entries(exts)) {
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(dir, "req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
    openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key",
      "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`, "-out", `${name}.pem`);
  }
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** An 8-bit RGB PNG of width x height whose pixel (x, y) is rgb(x, y). */
export function png(width, height, rgb) {
  const raw = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * 3);
    for (let x = 0; x < width; x++) raw.set(rgb(x, y), row + 1 + x * 3);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A seeded uniform source in [0, 1) (mulberry32), and normal draws. */
export function random(seed) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

export function unit(row) {
  const norm = Math.hypot(...row);
  return row.map((v) => v / norm);
}

export function distance(a, b) {
  return Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
}
