#!/usr/bin/env node
// ort_ref.js runs one ONNX model under onnxruntime-node, the reference runtime
// Provena is measured against, on inputs read from NumPy .npy files. It writes
// the outputs as .npy (the golden files of the conformance tests) and prints
// the timings that `provena bench model` reports.
//
//   node scripts/ort_ref.js --model M.onnx --input x.npy --output y.npy
//        [--threads N] [--repeat R] [--json]
//
// --input takes PATH (bound to the model's first input) or NAME=PATH, and may
// be repeated; --output likewise (PATH for the first output, NAME=PATH). The
// first run is timed on its own (it includes ORT's lazy initialisation); R
// more runs follow. onnxruntime-node is resolved from $PROVENA_FIXTURES
// (default <repo>/.cache/fixtures), where scripts/fixtures.sh installs it.
'use strict';

const fs = require('fs');
const path = require('path');

function usage(msg) {
  if (msg) process.stderr.write(`ort_ref: ${msg}\n`);
  process.stderr.write('usage: node scripts/ort_ref.js --model M.onnx --input [NAME=]x.npy ' +
    '[--output [NAME=]y.npy] [--threads N] [--repeat R] [--json]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { inputs: [], outputs: [], threads: 1, repeat: 0, json: false, model: '' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${k} needs a value`);
      return argv[++i];
    };
    switch (k) {
      case '--model': a.model = next(); break;
      case '--input': a.inputs.push(next()); break;
      case '--output': a.outputs.push(next()); break;
      case '--threads': a.threads = intArg(k, next(), 1); break;
      case '--repeat': a.repeat = intArg(k, next(), 0); break;
      case '--json': a.json = true; break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${k}`);
    }
  }
  if (!a.model) usage('--model is required');
  if (a.inputs.length === 0) usage('--input is required');
  return a;
}

function intArg(flag, s, min) {
  if (!/^[0-9]+$/.test(s)) usage(`${flag} wants an integer, got ${JSON.stringify(s)}`);
  const n = Number(s);
  if (n < min || n > 100000) usage(`${flag} out of range: ${n}`);
  return n;
}

// splitBinding turns "NAME=PATH" or "PATH" into [name|null, path]. A path may
// itself contain '=', so only a prefix without a slash counts as a name.
function splitBinding(s) {
  const eq = s.indexOf('=');
  if (eq > 0 && !s.slice(0, eq).includes('/')) return [s.slice(0, eq), s.slice(eq + 1)];
  return [null, s];
}

// .npy dtypes ORT tensors can carry, by descr (little-endian only: the
// canonical byte order of Provena's tensors).
const DTYPES = {
  '<f4': { ort: 'float32', arr: Float32Array, size: 4 },
  '<f8': { ort: 'float64', arr: Float64Array, size: 8 },
  '<i8': { ort: 'int64', arr: BigInt64Array, size: 8 },
  '<i4': { ort: 'int32', arr: Int32Array, size: 4 },
  '|i1': { ort: 'int8', arr: Int8Array, size: 1 },
  '|u1': { ort: 'uint8', arr: Uint8Array, size: 1 },
  '|b1': { ort: 'bool', arr: Uint8Array, size: 1 },
};

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

// readNpy parses a version 1, 2 or 3 .npy file in C order.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  const fail = (m) => { throw new Error(`read ${file}: ${m}`); };
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) fail('not a .npy file');
  const major = buf[6];
  let hlen, off;
  if (major === 1) { hlen = buf.readUInt16LE(8); off = 10; }
  else if (major === 2 || major === 3) {
    if (buf.length < 12) fail('truncated header');
    hlen = buf.readUInt32LE(8); off = 12;
  } else fail(`unsupported .npy version ${major}`);
  if (off + hlen > buf.length) fail('truncated header');
  const header = buf.subarray(off, off + hlen).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) fail(`malformed header ${JSON.stringify(header)}`);
  if (fortran[1] === 'True') fail('fortran_order arrays are not supported');
  const dt = DTYPES[descr[1]];
  if (!dt) fail(`unsupported dtype ${descr[1]}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    if (!/^[0-9]+$/.test(s)) fail(`bad shape ${shape[1]}`);
    return Number(s);
  });
  const n = dims.reduce((p, d) => p * d, 1);
  const data = buf.subarray(off + hlen);
  if (data.length !== n * dt.size) fail(`data is ${data.length} bytes, shape ${JSON.stringify(dims)} wants ${n * dt.size}`);
  // Copy so the typed array is aligned whatever the header length was.
  const copy = new Uint8Array(data.length);
  copy.set(data);
  const values = dt.ort === 'bool' ? copy : new dt.arr(copy.buffer, 0, n);
  return { type: dt.ort, dims, values };
}

// writeNpy writes a version 1.0 .npy file whose header is padded so the data
// starts on a 64-byte boundary, as NumPy does.
function writeNpy(file, type, dims, values) {
  const descr = Object.keys(DTYPES).find((k) => DTYPES[k].ort === type);
  if (!descr) throw new Error(`write ${file}: unsupported tensor type ${type}`);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

function loadOrt() {
  const root = process.env.PROVENA_FIXTURES || path.join(__dirname, '..', '.cache', 'fixtures');
  try {
    return require(require.resolve('onnxruntime-node', { paths: [root, __dirname] }));
  } catch (e) {
    throw new Error(`load onnxruntime-node from ${root} (run scripts/fixtures.sh): ${e.message}`);
  }
}

function ms(t0, t1) { return Number(t1 - t0) / 1e6; }

function median(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const feeds = {};
  for (const b of a.inputs) {
    const [name, file] = splitBinding(b);
    const key = name || session.inputNames[0];
    if (!session.inputNames.includes(key)) throw new Error(`model has no input ${key} (inputs: ${session.inputNames})`);
    const t = readNpy(file);
    feeds[key] = new ort.Tensor(t.type, t.values, t.dims);
  }
  const missing = session.inputNames.filter((n) => !(n in feeds));
  if (missing.length) throw new Error(`no value for input(s) ${missing.join(', ')}`);

  const t0 = process.hrtime.bigint();
  const out = await session.run(feeds);
  const t1 = process.hrtime.bigint();
  const first = ms(t0, t1);
  // CPU time (user+system of the whole process, all threads) beside wall
  // time: on a loaded machine it is the steadier measure of the work done.
  const runs = [];
  const cpuRuns = [];
  for (let i = 0; i < a.repeat; i++) {
    const c = process.cpuUsage();
    const s = process.hrtime.bigint();
    await session.run(feeds);
    runs.push(ms(s, process.hrtime.bigint()));
    const d = process.cpuUsage(c);
    cpuRuns.push((d.user + d.system) / 1000);
  }

  const written = [];
  for (const b of a.outputs) {
    const [name, file] = splitBinding(b);
    const key = name || session.outputNames[0];
    const t = out[key];
    if (!t) throw new Error(`model has no output ${key} (outputs: ${session.outputNames})`);
    writeNpy(file, t.type, t.dims, t.data);
    written.push({ name: key, path: file, type: t.type, shape: t.dims });
  }

  const report = {
    runtime: `onnxruntime-node ${ort.env && ort.env.versions ? ort.env.versions.common : ''}`.trim(),
    model: a.model,
    threads: a.threads,
    first_ms: first,
    runs_ms: runs,
    p50_ms: median(runs),
    cpu_runs_ms: cpuRuns,
    cpu_p50_ms: median(cpuRuns),
    min_ms: runs.length ? Math.min(...runs) : null,
    max_rss_kb: process.resourceUsage().maxRSS,
    vm_hwm_kb: vmHWM(),
    outputs: session.outputNames.map((n) => ({ name: n, type: out[n].type, shape: out[n].dims })),
    written,
  };
  if (a.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
  } else {
    process.stdout.write(`${path.basename(a.model)}: first ${first.toFixed(2)} ms` +
      (runs.length ? `, p50 ${report.p50_ms.toFixed(2)} ms over ${runs.length}` : '') +
      ` (threads ${a.threads})\n`);
    for (const w of written) process.stdout.write(`wrote ${w.path} ${w.type}${JSON.stringify(w.shape)}\n`);
  }
}

// vmHWM is this process's own peak resident memory in KiB (Linux), or null.
// Unlike rusage's maxRSS it belongs to the memory image made by exec, so it
// does not inherit the peak of the process that started this one.
function vmHWM() {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch (e) {
    return null;
  }
}

main().catch((e) => {
  process.stderr.write(`ort_ref: ${e.message}\n`);
  process.exit(1);
});
