// Allocation-heavy workload for bench/watch_overhead.py.
// Usage: node alloc_workload.js [seconds=30] [window_ms=1000]
// Allocates objects, strings, arrays and closures in batches, yielding to the event loop
// between batches like a busy server; prints one JSON line per window:
// {"window": i, "t": epoch_s, "ops": n, "ops_per_s": r, "cpu_s": this process's CPU seconds}
'use strict';

const seconds = Number(process.argv[2] || 30);
const windowMs = Number(process.argv[3] || 1000);
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

const started = Date.now();
let windowStart = started;
let windowOps = 0;
let windowIndex = 0;
let windowCpu = process.cpuUsage();

function runBatch() {
  for (let b = 0; b < BATCH; b++) allocateOne(ops++);
  windowOps += BATCH;
  const now = Date.now();
  if (now - windowStart >= windowMs) {
    const elapsed = (now - windowStart) / 1000;
    const cpu = process.cpuUsage(windowCpu);
    process.stdout.write(JSON.stringify({
      window: windowIndex++, t: now / 1000, ops: windowOps, ops_per_s: windowOps / elapsed,
      cpu_s: (cpu.user + cpu.system) / 1e6,
    }) + '\n');
    windowStart = now;
    windowCpu = process.cpuUsage();
    windowOps = 0;
  }
  if (now - started < seconds * 1000) setImmediate(runBatch);
  else process.stdout.write(JSON.stringify({ done: true, total_ops: ops, sink }) + '\n');
}

console.log('ready');
setImmediate(runBatch);
