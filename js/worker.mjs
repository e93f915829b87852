// The worker rnn2onnx drives for the onnxruntime-node and onnxruntime-web runtimes:
//
//   node worker.mjs node                  onnxruntime-node (CPU), in this process
//   node worker.mjs web CHROMIUM_PATH     onnxruntime-web (wasm) in headless Chromium, on a page
//                                         served by this process from 127.0.0.1 only
//
// One persistent process per Python session. Messages both ways on stdin/stdout: an
// 8-byte little-endian length, a JSON header, then for each entry of header.arrays
// ({name, dtype, shape}) an 8-byte length and the array's raw little-endian bytes.
//
//   {op: "version"}                        -> {ok, version}
//   {op: "load", path, threads, disable}   -> {ok, id, inputs, outputs}   (disable: graph optimizers
//                                             to leave out, onnxruntime's names)
//   {op: "run", id, arrays}  + buffers     -> {ok, arrays} + buffers (graph output order)
//   {op: "drop", id}                        (no answer)
// A failure answers {ok: false, error}. Anything else goes to stderr.
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TYPED = {
  float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array, bool: Uint8Array,
};

function writeMessage(header, buffers = []) {
  const body = Buffer.from(JSON.stringify(header));
  const parts = [lengthPrefix(body.length), body];
  for (const b of buffers) parts.push(lengthPrefix(b.length), b);
  process.stdout.write(Buffer.concat(parts));
}

function lengthPrefix(n) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

// frames from stdin, in order: an async iterator over (header, [Buffer])
async function* messages(stream) {
  let pending = Buffer.alloc(0);
  const frames = [];
  let header = null;
  for await (const chunk of stream) {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 8) {
      const size = Number(pending.readBigUInt64LE(0));
      if (pending.length < 8 + size) break;
      const frame = pending.subarray(8, 8 + size);
      pending = pending.subarray(8 + size);
      if (header === null) {
        header = JSON.parse(frame.toString("utf8"));
      } else {
        frames.push(Buffer.from(frame)); // own copy: `pending` is reused
      }
      if (header !== null && frames.length === (header.arrays || []).length) {
        yield [header, frames.splice(0)];
        header = null;
      }
    }
  }
}

// graphOptimizationLevel "all" (onnxruntime's default) less the optimizers named in `disable`
function sessionOptions(provider, disable) {
  const options = { executionProviders: [provider], graphOptimizationLevel: "all" };
  if (disable && disable.length) {
    options.extra = { optimization: { disable_specified_optimizers: disable.join(";") } };
  }
  return options;
}

function typedArray(buffer, dtype) {
  const Typed = TYPED[dtype];
  if (!Typed) throw new Error(`unsupported dtype ${dtype}; accepted: ${Object.keys(TYPED).join(", ")}`);
  const copy = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength); // aligned
  return new Typed(copy);
}

function tensorBytes(data) {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

// ---------------------------------------------------------------------------------------
// onnxruntime-node: sessions in this process

async function nodeBackend() {
  const ort = await import("onnxruntime-node");
  const sessions = new Map();
  const version = JSON.parse(fs.readFileSync(path.join(HERE, "node_modules/onnxruntime-node/package.json"))).version;
  return {
    version: () => version,
    async load(id, file, threads, disable) {
      const options = sessionOptions("cpu", disable);
      if (threads) options.intraOpNumThreads = threads;
      const session = await ort.InferenceSession.create(file, options);
      sessions.set(id, session);
      return { inputs: session.inputNames, outputs: session.outputNames };
    },
    async run(id, arrays, buffers) {
      const session = sessions.get(id);
      const feeds = {};
      arrays.forEach((a, i) => { feeds[a.name] = new ort.Tensor(a.dtype, typedArray(buffers[i], a.dtype), a.shape); });
      const results = await session.run(feeds);
      return session.outputNames.map((name) => {
        const t = results[name];
        return { name, dtype: t.type, shape: t.dims, bytes: tensorBytes(t.data) };
      });
    },
    drop(id) {
      const session = sessions.get(id);
      sessions.delete(id);
      if (session) session.release();
    },
    close: async () => {},
  };
}

// ---------------------------------------------------------------------------------------
// onnxruntime-web: a page on 127.0.0.1 in headless Chromium; the page fetches each model
// from this process's server and keeps its sessions until dropped

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

function serve(models) {
  const dist = path.join(HERE, "node_modules/onnxruntime-web/dist");
  const types = { ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
    ".html": "text/html" };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    let body = null;
    let type = "application/octet-stream";
    if (url.pathname === "/") {
      body = fs.readFileSync(path.join(HERE, "harness.html"));
      type = types[".html"];
    } else if (/^\/ort\/[\w.-]+$/.test(url.pathname)) {
      const file = path.join(dist, url.pathname.slice(5));
      if (fs.existsSync(file)) {
        body = fs.readFileSync(file);
        type = types[path.extname(file)] || type;
      }
    } else if (/^\/model\/\d+$/.test(url.pathname)) {
      body = models.get(Number(url.pathname.slice(7))) || null;
    }
    if (body === null) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { "Content-Type": type, "Cache-Control": "no-store" });
    res.end(body);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function webBackend(chromiumPath) {
  const { chromium } = await import("playwright-core");
  const models = new Map(); // model bytes waiting for the page to fetch them
  const server = await serve(models);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "rnn2onnx-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS,
  });
  const page = context.pages()[0] || (await context.newPage());
  // nothing but this process's own server
  await page.route("**/*", (route) => (route.request().url().startsWith(origin + "/") ? route.continue()
    : route.abort()));
  page.on("pageerror", (e) => process.stderr.write(`page error: ${e}\n`));
  page.on("console", (m) => process.stderr.write(`page: ${m.text()}\n`));
  await page.goto(origin + "/");
  await page.waitForFunction(() => window.harness !== undefined);
  const version = await page.evaluate(() => window.harness.version());
  const browser = context.browser() ? context.browser().version() : "";
  return {
    version: () => version + (browser ? ` (Chromium ${browser})` : ""),
    async load(id, file, threads, disable) {
      models.set(id, fs.readFileSync(file));
      try {
        return await page.evaluate(([url, key, options]) => window.harness.load(url, key, options),
          [`/model/${id}`, id, sessionOptions("wasm", disable)]);
      } finally {
        models.delete(id);
      }
    },
    async run(id, arrays, buffers) {
      const inputs = arrays.map((a, i) => ({ ...a, data: buffers[i].toString("base64") }));
      const outputs = await page.evaluate(([key, feeds]) => window.harness.run(key, feeds), [id, inputs]);
      return outputs.map((o) => ({ name: o.name, dtype: o.dtype, shape: o.shape, bytes: Buffer.from(o.data, "base64") }));
    },
    drop(id) {
      page.evaluate((key) => window.harness.drop(key), id).catch(() => {});
    },
    async close() {
      await context.close();
      server.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------

function errorText(e) {
  return String((e && e.message) || e).split("\n")[0].slice(0, 4000); // rnn2onnx shortens it
}

async function main() {
  const [kind, chromiumPath] = process.argv.slice(2);
  let backend;
  try {
    if (kind === "node") backend = await nodeBackend();
    else if (kind === "web") backend = await webBackend(chromiumPath);
    else throw new Error(`unknown backend ${kind}; accepted: node, web`);
  } catch (e) {
    writeMessage({ ok: false, error: `could not start: ${errorText(e)}` });
    process.exitCode = 1;
    return;
  }
  let nextId = 0;
  for await (const [request, buffers] of messages(process.stdin)) {
    try {
      if (request.op === "drop") {
        backend.drop(request.id);
        continue;
      }
      if (request.op === "version") {
        writeMessage({ ok: true, version: backend.version() });
      } else if (request.op === "load") {
        const id = nextId++;
        const names = await backend.load(id, request.path, request.threads || 0, request.disable || []);
        writeMessage({ ok: true, id, ...names });
      } else if (request.op === "run") {
        const outputs = await backend.run(request.id, request.arrays, buffers);
        writeMessage({ ok: true, arrays: outputs.map(({ name, dtype, shape }) => ({ name, dtype, shape })) },
          outputs.map((o) => o.bytes));
      } else {
        writeMessage({ ok: false, error: `unknown request ${String(request.op).slice(0, 40)}` });
      }
    } catch (e) {
      writeMessage({ ok: false, error: errorText(e) });
    }
  }
  await backend.close();
}

main();
