// The README's install and example, as a user would: a scratch project
// that installs the SDK from the checkout with `npm install --offline`
// (an empty npm cache: nothing can be downloaded), runs the README's ```ts
// block as example.mjs against the real server, and type-checks it as
// example.ts with the pinned tsc (strict).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { serverBinary, startServer, tempDir } from "./harness.mjs";

const sdk = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const skip = serverBinary() ? false : "DATAPOOL_SERVER_BIN is not set";

function readmeBlock() {
  const text = fs.readFileSync(path.join(sdk, "README.md"), "utf8");
  const m = /^```ts\n([\s\S]*?)^```/m.exec(text);
  assert.ok(m, "no ```ts block in client/typescript/README.md");
  return m[1];
}

let dir;
let server;
let app;

before(async () => {
  if (skip) return;
  dir = tempDir("datapool-ts-readme-");
  server = await startServer(path.join(dir, "server"));
  app = path.join(dir, "my-app");
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, "package.json"),
    JSON.stringify({ name: "my-app", version: "1.0.0", private: true, type: "module" }, null, 2));
  // No registry, no cache, no proxy: only what the checkout has.
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && !/_proxy$/i.test(k)) env[k] = v;
  }
  execFileSync("npm", ["install", "--offline", "--install-links=false", "--no-audit", "--no-fund", "--cache", path.join(dir, "npm-cache"),
    "--registry", "http://127.0.0.1:9/", sdk], { cwd: app, env, stdio: ["ignore", "pipe", "pipe"] });
});

after(async () => {
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test("the README example runs against the server", { skip }, () => {
  fs.writeFileSync(path.join(app, "example.mjs"), readmeBlock());
  const run = spawnSync(process.execPath, ["example.mjs"], {
    cwd: app, encoding: "utf8", timeout: 120_000,
    env: { ...process.env, DATAPOOL_SERVER: server.address, DATAPOOL_TOKEN: "" },
  });
  assert.equal(run.status, 0, `the README example failed:\n${run.stdout}\n${run.stderr}`);
  const out = run.stdout;
  assert.match(out, /^n_samples version 1 \[/m, out);
  assert.match(out, /^ {2}selecting \d+ 50$/m, out);
  assert.match(out, /^ {2}committing 1 1$/m, out);
  assert.match(out, /^50 picked, pool size 100$/m, out);
  // The three neighbours, nearest first.
  const hits = [...out.matchAll(/^batch[12]\/\d{4}\.jpg (\d\.\d{3})$/gm)].map((m) => Number(m[1]));
  assert.equal(hits.length, 3, out);
  assert.deepEqual(hits, [...hits].sort((a, b) => a - b));
  assert.match(out, /'demo: 100'/, out);
  assert.match(out, /^report of version 2 in .*demo/m, out);
  assert.match(out, /^NOT_FOUND - /m, out);
  assert.deepEqual(fs.readdirSync(path.join(server.shared, "demo")).includes("datapool_latest.csv"), true);
});

test("the README example type-checks as TypeScript (strict)", { skip }, () => {
  fs.writeFileSync(path.join(app, "example.ts"), readmeBlock());
  const tsc = path.join(sdk, "node_modules", "typescript", "bin", "tsc");
  const run = spawnSync(process.execPath, [tsc, "--noEmit", "--strict", "--module", "nodenext",
    "--moduleResolution", "nodenext", "--target", "es2022", "--skipLibCheck",
    "--types", "node", "--typeRoots", path.join(sdk, "node_modules", "@types"), "example.ts"],
  { cwd: app, encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 0, `tsc refused the README example:\n${run.stdout}\n${run.stderr}`);
});
