// The TypeScript SDK (dist/, built by `npm run build`) against the real
// server binary (env DATAPOOL_SERVER_BIN) on loopback: a server with the
// built-in model (uploaded images), and one with TLS (client certificates
// required) and bearer tokens. Run: node --test test/ (scripts/test.sh).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Client, Code, DatapoolError } from "../dist/index.js";
import { distance, makePki, png, random, serverBinary, startServer, tempDir, unit } from "./harness.mjs";

const TOKEN = "ts-sdk-token-8d1f";
const D = 16;
const skip = serverBinary() ? false : "DATAPOOL_SERVER_BIN is not set";

/** n clusters of `per` unit vectors around random centres. */
function clustered(seed, n, per, prefix) {
  const rng = random(seed);
  const names = [];
  const rows = [];
  const labels = [];
  for (let c = 0; c < n; c++) {
    const centre = unit(Array.from({ length: D }, rng.normal));
    for (let j = 0; j < per; j++) {
      names.push(`${prefix}/c${c}_${String(j).padStart(2, "0")}.jpg`);
      rows.push(unit(centre.map((v) => v + 0.02 * rng.normal())));
      labels.push(c);
    }
  }
  return { names, rows, labels };
}

async function rejectsWith(promise, code, text) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof DatapoolError, `not a DatapoolError: ${e}`);
    assert.equal(e.code, code, `${e.codeName}: ${e.message}`);
    assert.equal(e.codeName, Code[code] === "Canceled" ? "CANCELLED"
      : Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase());
    assert.equal(String(e), `${e.codeName}: ${e.message}`);
    if (text !== undefined) assert.match(e.message, text);
    return true;
  });
}

describe("datapool-client against the real server", { skip }, () => {
  let dir;
  let model; // the built-in model
  let secure; // --model none, mutual TLS, tokens
  let client;

  before(async () => {
    dir = tempDir("datapool-ts-sdk-");
    fs.mkdirSync(path.join(dir, "pki"));
    makePki(path.join(dir, "pki"));
    const tokens = path.join(dir, "tokens");
    fs.writeFileSync(tokens, `# ts sdk test\n${TOKEN}\n`);
    const pki = (f) => path.join(dir, "pki", f);
    [model, secure] = await Promise.all([
      startServer(path.join(dir, "model")),
      startServer(path.join(dir, "secure"), [
        "--model", "none", "--auth-token-file", tokens,
        "--tls-cert", pki("server.pem"), "--tls-key", pki("server.key"),
        "--tls-client-ca", pki("ca.pem"),
      ]),
    ]);
    client = new Client(model.address, { timeoutMs: 120_000 });
  });

  after(async () => {
    client?.close();
    await Promise.all([model?.stop(), secure?.stop()]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("select with embeddings commits diverse picks; pools, history, search", async () => {
    const { names, rows, labels } = clustered(1, 3, 6, "emb");
    const r = await client.select("ts-emb", {
      embeddings: rows, filenames: names, labels, nSamples: 5, strategy: "diversity",
    });
    assert.equal(r.selected.length, 5);
    assert.equal(r.selected[0].distance, undefined);
    assert.ok(r.selected.slice(1).every((p) => typeof p.distance === "number"));
    assert.deepEqual(
      [r.stopReason, r.version, r.committed, r.poolSizeBefore, r.poolSizeAfter, r.candidatesReceived],
      ["n_samples", 1, true, 0, 5, names.length]);
    // Greedy k-center: the first three picks cover the three clusters, and
    // each pick's distance is its distance to the nearest earlier pick.
    assert.deepEqual(new Set(r.selected.slice(0, 3).map((p) => p.label)), new Set([0, 1, 2]));
    const row = (name) => rows[names.indexOf(name)];
    r.selected.forEach((p, i) => {
      assert.equal(p.label, labels[names.indexOf(p.filename)]);
      if (i === 0) return;
      const nearest = Math.min(...r.selected.slice(0, i).map((q) => distance(row(p.filename), row(q.filename))));
      assert.ok(Math.abs(p.distance - nearest) < 1e-4, `${p.distance} vs ${nearest}`);
    });
    assert.deepEqual(r.filenames, r.selected.map((p) => p.filename));
    assert.ok(r.report && r.report.folder.endsWith(path.join("ts-emb", "reports", "1")), r.report?.folder);

    const info = await client.pool("ts-emb");
    assert.deepEqual([info.name, info.size, info.dimension, info.version, info.modelFingerprint, info.problem],
      ["ts-emb", 5, D, 1, "", ""]);
    assert.equal(info.folder, path.join(model.shared, "ts-emb"));
    assert.ok((await client.pools()).some((p) => p.name === "ts-emb" && p.size === 5));
    const history = await client.history("ts-emb");
    assert.deepEqual(history.map((v) => [v.version, v.size, v.current, v.csvFile]),
      [[1, 5, true, "datapool_latest.csv"]]);
    // What the server committed is what it answered.
    const csv = fs.readFileSync(path.join(model.shared, "ts-emb", "datapool_latest.csv"), "utf8");
    const onDisk = csv.trim().split("\n").slice(1).map((l) => l.split(",")[0]).sort();
    assert.deepEqual(onDisk, [...r.filenames].sort());

    // Each picked row's nearest pool sample is itself.
    const picked = r.selected.map((p) => row(p.filename));
    const found = await client.search("ts-emb", { embeddings: picked, k: 2 });
    assert.deepEqual(found.results.map((q) => q.query), picked.map((_, i) => `query_${i}`));
    found.results.forEach((q, i) => {
      assert.equal(q.neighbors.length, 2);
      assert.equal(q.neighbors[0].filename, r.selected[i].filename);
      assert.ok(q.neighbors[0].distance < 1e-3);
      assert.ok(q.neighbors[1].distance >= q.neighbors[0].distance);
    });

    // A dry run with its report commits nothing and answers the report.
    const more = clustered(2, 2, 5, "more");
    const dry = await client.select("ts-emb", {
      embeddings: more.rows, filenames: more.names, nSamplesFraction: 0.5, dryRun: true, report: true,
    });
    assert.deepEqual([dry.committed, dry.version, dry.selected.length, dry.poolSizeBefore], [false, 1, 5, 5]);
    assert.equal(dry.report?.folder, "");
    assert.ok(dry.report?.html.length > 0);
    assert.equal(typeof dry.report?.data, "object");
    assert.equal((await client.pool("ts-emb")).version, 1);
  });

  test("report: the committed selection's report.json, and its page on request", async () => {
    const { names, rows } = clustered(3, 2, 8, "rep");
    const r = await client.select("ts-report", { embeddings: rows, filenames: names, nSamples: 4 });
    const rep = await client.report("ts-report");
    assert.equal(rep.version, r.version);
    assert.equal(rep.folder, r.report?.folder);
    assert.equal(rep.html, "");
    assert.equal(rep.error, "");
    assert.deepEqual(JSON.parse(rep.json), rep.data);
    assert.ok(JSON.stringify(rep.data).includes("n_samples"), rep.json.slice(0, 400));
    const page = await client.report("ts-report", { version: 1, html: true });
    assert.match(page.html, /<html/i);
    assert.equal(fs.readFileSync(path.join(rep.folder, "report.html"), "utf8"), page.html);
    await rejectsWith(client.report("ts-report", { version: 9 }), Code.NotFound);
    await rejectsWith(client.report("ts-report", { version: 0 }), Code.InvalidArgument);
  });

  test("progress: phases in order while the selection runs", async () => {
    const rng = random(4);
    const n = 3000;
    const rows = Array.from({ length: n }, () => Array.from({ length: D }, rng.normal));
    const names = rows.map((_, i) => `prog/${String(i).padStart(5, "0")}.jpg`);
    const seen = [];
    const r = await client.select("ts-progress", {
      embeddings: rows, filenames: names, nSamples: 300,
      progress: (phase, done, total) => seen.push([phase, done, total]),
    });
    assert.equal(r.selected.length, 300);
    assert.ok(r.committed);
    const order = ["receiving", "embedding", "selecting", "committing"];
    const phases = seen.map((s) => s[0]);
    assert.deepEqual(phases, [...phases].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
    assert.ok(phases.includes("selecting"), JSON.stringify(seen));
    assert.deepEqual(seen.at(-1), ["committing", 1, 1]);
    assert.ok(seen.filter((s) => s[0] === "selecting").every(([, d, t]) => t === 300 && d >= 0 && d <= 300));
  });

  test("a progress callback that throws cancels the call: nothing is committed", async () => {
    const rng = random(5);
    const rows = Array.from({ length: 100_000 }, () => Array.from({ length: D }, rng.normal));
    const names = rows.map((_, i) => `stop/${String(i).padStart(6, "0")}.jpg`);
    class Stop extends Error {}
    // Plain k-center: the selecting phase starts at once (the default
    // strategy's typicality pass over 100 000 candidates takes long).
    await assert.rejects(client.select("ts-cancel", {
      embeddings: rows, filenames: names, nSamples: 50_000, strategy: "diversity",
      progress: (phase) => {
        if (phase === "selecting") throw new Stop("stop");
      },
    }), Stop);
    // The client's deadline cancels a call the same way.
    const hurried = new Client(model.address, { timeoutMs: 300 });
    try {
      await rejectsWith(hurried.select("ts-cancel", {
        embeddings: rows, filenames: names, nSamples: 50_000, strategy: "diversity", progress: () => {},
      }), Code.DeadlineExceeded);
    } finally {
      hurried.close();
    }
    const late = await client.select("ts-cancel", { embeddings: rows.slice(0, 1), filenames: ["late.jpg"], nSamples: 1 });
    assert.deepEqual([late.version, late.poolSizeAfter], [1, 1]);
  });

  test("select with uploaded image files, embedded by the server's model", async () => {
    const photos = path.join(dir, "local", "photos");
    const colours = { cats: [[200, 30, 30], [180, 60, 40], [220, 20, 90]], dogs: [[20, 40, 200], [30, 160, 60]] };
    for (const [folder, list] of Object.entries(colours)) {
      fs.mkdirSync(path.join(photos, folder), { recursive: true });
      list.forEach(([r, g, b], i) => fs.writeFileSync(path.join(photos, folder, `${i}.png`),
        png(48, 40, (x, y) => [(r + 2 * x) % 256, (g + 3 * y) % 256, b])));
    }
    fs.writeFileSync(path.join(photos, "cats", "broken.png"), Buffer.from("not a png at all"));
    fs.writeFileSync(path.join(photos, "notes.txt"), "not an image: not sent");
    // Small messages: images span several chunks and messages.
    const small = new Client(model.address, { timeoutMs: 120_000, chunkBytes: 1024 });
    let r;
    try {
      r = await small.select("ts-images", { images: [photos], nSamples: 3 });
    } finally {
      small.close();
    }
    assert.equal(r.selected.length, 3);
    // The broken file is skipped, not a candidate.
    assert.equal(r.candidatesReceived, 5);
    assert.deepEqual(r.skipped.map((s) => s.filename), ["photos/cats/broken.png"]);
    assert.ok(r.skipped[0].reason.length > 0);
    for (const p of r.selected) {
      const m = /^photos\/(cats|dogs)\/\d\.png$/.exec(p.filename);
      assert.ok(m, p.filename);
      assert.equal(p.label, m[1] === "dogs" ? 1 : 0, p.filename);
    }
    const info = await client.pool("ts-images");
    assert.equal(info.size, 3);
    assert.ok(info.dimension > 0 && info.modelFingerprint !== "", JSON.stringify(info));
    // The same upload as queries: each picked image finds itself.
    const found = await client.search("ts-images", { images: [photos], k: 1 });
    assert.deepEqual(found.skipped.map((s) => s.filename), ["photos/cats/broken.png"]);
    assert.equal(found.results.length, 5);
    for (const p of r.selected) {
      const q = found.results.find((x) => x.query === p.filename);
      assert.equal(q?.neighbors[0].filename, p.filename);
      assert.ok(q.neighbors[0].distance < 1e-3, JSON.stringify(q));
    }
    await rejectsWith(client.select("ts-images", { images: [path.join(dir, "nope")], nSamples: 1 }), Code.NotFound);
  });

  test("errors carry the gRPC code; bad arguments are refused before calling", async () => {
    const rows = [unit([1, 0, 0, 0]), unit([0, 1, 0, 0])];
    const names = ["e/0.jpg", "e/1.jpg"];
    await rejectsWith(client.pool("ts-missing"), Code.NotFound, /ts-missing/);
    await rejectsWith(client.history("ts-missing"), Code.NotFound);
    await rejectsWith(client.search("ts-missing", { embeddings: rows, k: 1 }), Code.NotFound);
    await rejectsWith(client.select("bad/name", { embeddings: rows, filenames: names, nSamples: 1 }), Code.InvalidArgument);
    await rejectsWith(client.select("ts-err", { embeddings: rows, filenames: names }), Code.InvalidArgument, /stopping/);
    await rejectsWith(client.select("ts-err", { embeddings: rows, filenames: names, nSamplesFraction: 1.5 }),
      Code.InvalidArgument, /n_samples fraction must be in \(0, 1\], got 1\.5/);
    await client.select("ts-err", { embeddings: rows, filenames: names, nSamples: 1 });
    await rejectsWith(client.select("ts-err", { embeddings: rows.map((r) => r.slice(0, 2)), filenames: names, nSamples: 1 }),
      Code.FailedPrecondition, /dimension/);
    const invalid = [
      () => client.select("ts-arg", { embeddings: rows, filenames: names.slice(0, 1), nSamples: 1 }),
      () => client.select("ts-arg", { embeddings: rows, nSamples: 1 }),
      () => client.select("ts-arg", { embeddings: [[1, 2], [3]], filenames: names, nSamples: 1 }),
      () => client.select("ts-arg", { embeddings: [["x", "y"], ["z", "w"]], filenames: names, nSamples: 1 }),
      () => client.select("ts-arg", { embeddings: rows, filenames: names, labels: [1], nSamples: 1 }),
      () => client.select("ts-arg", { embeddings: rows, filenames: names, paths: ["x"], nSamples: 1 }),
      () => client.select("ts-arg", { nSamples: 1 }),
      () => client.select("ts-arg", { embeddings: rows, filenames: names, nSamples: 1.5 }),
      () => client.select("ts-arg", { embeddings: rows, filenames: names, nSamples: -1 }),
      () => client.select("ts-arg", { embeddings: rows, filenames: names, nSamples: 1, nSamplesFraction: 0.5 }),
      () => client.select("ts-arg", { embeddings: rows, filenames: names, nSamples: 1, strategy: "random" }),
      () => client.search("ts-arg", { embeddings: rows, k: 0 }),
    ];
    for (const call of invalid) {
      await rejectsWith(Promise.resolve().then(call), Code.InvalidArgument);
    }
    assert.ok(!(await client.pools()).some((p) => p.name === "ts-arg"));
    assert.equal(await client.health(), "SERVING");
  });

  describe("TLS and tokens", () => {
    const pki = (f) => path.join(dir, "pki", f);
    const mtls = () => ({ ca: pki("ca.pem"), cert: pki("client.pem"), key: pki("client.key") });
    const connect = (options) => new Client(`localhost:${secure.port}`, { timeoutMs: 60_000, ...options });

    test("a missing or wrong token is refused with UNAUTHENTICATED; health stays open", async () => {
      for (const token of [undefined, "wrong", `${TOKEN}x`]) {
        const c = connect({ tls: mtls(), token });
        try {
          await rejectsWith(c.pools(), Code.Unauthenticated);
          await rejectsWith(c.select("ts-secure", { embeddings: [[1, 0]], filenames: ["a.jpg"], nSamples: 1 }),
            Code.Unauthenticated);
          assert.equal(await c.health(), "SERVING");
        } finally {
          c.close();
        }
      }
      assert.deepEqual(fs.readdirSync(secure.shared).filter((f) => !f.startsWith(".")), []);
    });

    test("the right token over mutual TLS works; PEM bytes and serverName", async () => {
      const c = connect({ tls: mtls(), token: TOKEN });
      try {
        assert.deepEqual(await c.pools(), []);
        const r = await c.select("ts-secure", {
          embeddings: [unit([1, 0, 0]), unit([0, 1, 0]), unit([0, 0, 1])],
          filenames: ["a.jpg", "b.jpg", "c.jpg"], nSamples: 2, progress: () => {},
        });
        assert.deepEqual([r.version, r.selected.length], [1, 2]);
        assert.deepEqual((await c.pools()).map((p) => p.name), ["ts-secure"]);
      } finally {
        c.close();
      }
      // An IP address, the certificate's name given as serverName.
      const bytes = new Client(secure.address, {
        token: TOKEN, timeoutMs: 60_000,
        tls: { ca: fs.readFileSync(pki("ca.pem")), cert: fs.readFileSync(pki("client.pem")),
          key: fs.readFileSync(pki("client.key")), serverName: "localhost" },
      });
      try {
        assert.equal((await bytes.pool("ts-secure")).size, 2);
      } finally {
        bytes.close();
      }
    });

    test("no connection without the client certificate, the CA, or TLS", async () => {
      for (const tls of [{ ca: pki("ca.pem") }, { cert: pki("client.pem"), key: pki("client.key") }, undefined]) {
        const c = connect({ tls, token: TOKEN });
        try {
          await assert.rejects(c.pools(), (e) => {
            assert.ok(e instanceof DatapoolError, String(e));
            // Node's TLS errors: INTERNAL when the server's certificate
            // does not verify, CANCELLED when the server refuses ours
            // after the handshake (TLS 1.3); UNAVAILABLE in plaintext.
            assert.ok([Code.Unavailable, Code.Canceled, Code.Internal].includes(e.code),
              `${e.codeName}: ${e.message}`);
            return true;
          });
        } finally {
          c.close();
        }
      }
      assert.throws(() => connect({ tls: { cert: pki("client.pem") } }), DatapoolError);
    });
  });
});
