// Allocation-heavy workload for bench/watch_overhead.py.
// Usage: node alloc_workload.js [seconds=30] [window_ms=1000]
//   Allocates objects, strings, arrays and closures in batches, yielding to the event loop
//   between batches like a busy server; prints one JSON line per window:
//   {"window": i, "start": epoch_s, "t": epoch_s, "ops": n, "ops_per_s": r,
//    "cpu_s": this process's CPU seconds in the window}
// Usage: node alloc_workload.js probe-cost PROBE_JS [pairs=10] [phase_ms=1000]
//   Measures memtui's probe inside this process, with no inspector: the cost of one
//   sample() call; the work lost to its GC counting (phases with the probe installed and
//   uninstalled alternate A B B A ..., counting the GCs); and the GC counting's extra CPU time
//   per GC, reading included (blocks of forced minor GCs, each ended by a sample() call, with
//   the probe installed and not, alternating A B B A ...).
//   Prints one JSON line with the results.
'use strict';

const BATCH = 2000;
const RETAINED = 50000;

class Order {
  constructor(id, customer) {
    this.id = id;
    this.customer = customer;
    this.lines = [];
    this.note = `order-${id}`;
  }
}

const retained = new Array(RETAINED);
let slot = 0;
let ops = 0;
let sink = 0;

function allocateOne(i) {
  const order = new Order(i, { name: 'c' + (i % 977), tier: i & 3 });
  for (let k = 0; k < 4; k++) order.lines.push({ sku: 'sku-' + ((i + k) % 5003), qty: k + 1 });
  const tags = [String(i), (i * 7).toString(36), 'x'.repeat(i % 32)];
  const total = () => order.lines.length + tags.length;
  sink += total();
  if ((i & 7) === 0) {
    retained[slot] = order;
    slot = (slot + 1) % RETAINED;
  }
}

function runBatch() {
  for (let b = 0; b < BATCH; b++) allocateOne(ops++);
}

function cpuSeconds(since) {
  const cpu = process.cpuUsage(since);
  return (cpu.user + cpu.system) / 1e6;
}

function throughputWindows(seconds, windowMs) {
  const started = Date.now();
  let windowStart = started;
  let windowOps = 0;
  let windowIndex = 0;
  let windowCpu = process.cpuUsage();

  function step() {
    runBatch();
    windowOps += BATCH;
    const now = Date.now();
    if (now - windowStart >= windowMs) {
      const elapsed = (now - windowStart) / 1000;
      process.stdout.write(JSON.stringify({
        window: windowIndex++, start: windowStart / 1000, t: now / 1000, ops: windowOps,
        ops_per_s: windowOps / elapsed, cpu_s: cpuSeconds(windowCpu),
      }) + '\n');
      windowStart = now;
      windowCpu = process.cpuUsage();
      windowOps = 0;
    }
    if (now - started < seconds * 1000) setImmediate(step);
    else process.stdout.write(JSON.stringify({ done: true, total_ops: ops, sink }) + '\n');
  }
  console.log('ready');
  setImmediate(step);
}

function loadProbe(path) {
  const source = require('fs').readFileSync(path, 'utf8');
  return (0, eval)(`(${source})`);
}

function sampleCostMicros(probe, calls) {
  const client = 'bench-sample-cost';
  probe(require, 'install', client);
  const call = () => JSON.stringify(globalThis[Symbol.for('memtui.probe')].sample(client));
  for (let i = 0; i < calls / 10; i++) call();
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) call();
  const micros = Number(process.hrtime.bigint() - started) / 1000 / calls;
  probe(require, 'uninstall', client);
  return micros;
}

function phase(phaseMs) {
  return new Promise((resolve) => {
    const cpu = process.cpuUsage();
    const started = Date.now();
    let phaseOps = 0;
    function step() {
      runBatch();
      phaseOps += BATCH;
      if (Date.now() - started < phaseMs) setImmediate(step);
      else resolve(phaseOps / cpuSeconds(cpu));
    }
    setImmediate(step);
  });
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

async function cpuMicrosPerForcedGc(gc, count, client) {
  const cpu = process.cpuUsage();
  for (let i = 0; i < count; i++) gc({ type: 'minor' });
  await nextTurn();
  await nextTurn();
  const installed = globalThis[Symbol.for('memtui.probe')];
  if (installed) installed.sample(client);
  return cpuSeconds(cpu) * 1e6 / count;
}

async function gcCountingMicrosPerGc(probe, pairs, count) {
  require('v8').setFlagsFromString('--expose-gc');
  const gc = require('vm').runInNewContext('gc');
  const client = 'bench-gc-cost';
  const extra = [];
  for (let p = 0; p < pairs; p++) {
    const order = p % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
    const micros = {};
    for (const variant of order) {
      probe(require, variant === 'with' ? 'install' : 'uninstall', client);
      micros[variant] = await cpuMicrosPerForcedGc(gc, count, client);
    }
    extra.push(micros.with - micros.without);
  }
  probe(require, 'uninstall', client);
  return extra;
}

function gcEvents(client) {
  const { gc } = globalThis[Symbol.for('memtui.probe')].sample(client).reading;
  return gc.minor + gc.major + gc.incremental + gc.weakcb;
}

async function probeCost(probePath, pairs, phaseMs) {
  const probe = loadProbe(probePath);
  const client = 'bench-gc-counting';
  const sampleMicros = sampleCostMicros(probe, 2000);
  await phase(phaseMs);
  const countingPairs = [];
  for (let p = 0; p < pairs; p++) {
    const order = p % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
    const perCpu = {};
    for (const variant of order) {
      probe(require, variant === 'with' ? 'install' : 'uninstall', client);
      perCpu[variant] = await phase(phaseMs);
      if (variant === 'with') perCpu.gc_per_s = gcEvents(client) / (phaseMs / 1000);
    }
    countingPairs.push(perCpu);
  }
  probe(require, 'uninstall', client);
  const gcMicros = await gcCountingMicrosPerGc(probe, pairs, 500);
  process.stdout.write(JSON.stringify({
    sample_us: sampleMicros, counting_pairs: countingPairs, counting_us_per_gc: gcMicros, sink,
  }) + '\n');
}

if (process.argv[2] === 'probe-cost') {
  probeCost(process.argv[3], Number(process.argv[4] || 10), Number(process.argv[5] || 1000));
} else {
  throughputWindows(Number(process.argv[2] || 30), Number(process.argv[3] || 1000));
}
