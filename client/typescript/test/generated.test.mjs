// The committed generated code (src/gen) is what `buf generate` makes from
// proto/ now (proto/buf.gen.yaml, protoc-gen-es from node_modules):
// regenerated into a temporary folder and compared file by file, as
// tests/python/test_python_sdk.py does for the Python stubs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./harness.mjs";

const sdk = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const protoRoot = path.resolve(sdk, "..", "..", "proto");

function files(root, rel = "") {
  return fs.readdirSync(path.join(root, rel), { withFileTypes: true }).flatMap((e) => {
    const inside = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? files(root, inside) : [inside];
  }).sort();
}

test("src/gen matches proto/ (else: npm run generate)", () => {
  const out = tempDir("datapool-ts-gen-");
  try {
    // buf.gen.yaml's paths are relative to proto/; --output prefixes them,
    // so <out>/proto/../client/typescript/src/gen is <out>/client/...
    execFileSync(path.join(sdk, "node_modules", ".bin", "buf"),
      ["generate", "--output", path.join(out, "proto")],
      { cwd: protoRoot, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, BUF_CACHE_DIR: path.join(out, "cache") } });
    const fresh = path.join(out, "client", "typescript", "src", "gen");
    const committed = path.join(sdk, "src", "gen");
    assert.deepEqual(files(committed), files(fresh), "the generated files differ: run npm run generate");
    for (const f of files(fresh)) {
      assert.ok(fs.readFileSync(path.join(fresh, f)).equals(fs.readFileSync(path.join(committed, f))),
        `client/typescript/src/gen/${f} is stale: run \`npm run generate\` in client/typescript`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
