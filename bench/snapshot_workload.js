// A heap of one shape for bench/snapshot_memory.py: node --expose-gc snapshot_workload.js SHAPE MIB
//
// Builds live objects of SHAPE until the used heap, after a full GC, reaches MIB MiB (0: Node's
// own heap only), then
// prints one JSON line {ready, shape, stats}: what V8 tells cheaply before a capture. A 10 ms
// interval timer measures how long the event loop stops. Commands on standard input, one per
// line, each answered by one JSON line:
//   mark    forget the longest gap so far          -> {marked: true}
//   report  the longest gap since mark, and stats  -> {max_gap_ms, gaps_over_100ms, stats}
// The end of standard input ends the process.
'use strict';

const v8 = require('v8');
const { performance } = require('perf_hooks');
const readline = require('readline');

const MIB = 1024 * 1024;
const TICK_MS = 10;
const keep = [];

class Point {
  constructor(x, y, tag) {
    this.x = x;
    this.y = y;
    this.tag = tag;
  }
}

class Customer {
  constructor(id) {
    this.id = id;
    this.name = `customer-${id}`;
    this.email = `c${id}@example.com`;
    this.tags = new Set(['new', id % 2 ? 'odd' : 'even']);
    this.orders = [];
    this.created = new Date(1700000000000 + id);
    this.onChange = () => this.id;
  }
}

function latin1(length, seed) {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = 97 + ((seed + i * 7) % 26);
  return bytes.toString('latin1');
}

// Each builder adds one batch of its shape to `keep` (or to one growing collection). V8's cost
// grows with the longest array or hash table holding references (each of its indexes becomes
// a distinct name in the snapshot), so shapes differ in where their objects are held.
const biglist = [];
const bigMaps = [];
const customers = new Map();
const SHAPES = {
  objects(i) {
    const batch = new Array(10000);
    for (let j = 0; j < batch.length; j++) batch[j] = { id: i + j, price: j % 100, qty: 1 };
    keep.push(batch);
  },
  biglist(i) {
    if (i === 0) keep.push(biglist);
    for (let j = 0; j < 10000; j++) biglist.push({ id: i + j, price: j % 100, qty: 1 });
  },
  instances(i) {
    const batch = new Array(10000);
    for (let j = 0; j < batch.length; j++) batch[j] = new Point(i + j, j, 'p');
    keep.push(batch);
  },
  closures(i) {
    const batch = new Array(10000);
    for (let j = 0; j < batch.length; j++) {
      const n = i + j;
      batch[j] = () => n;
    }
    keep.push(batch);
  },
  heapnumbers(i) {
    const batch = [{}];
    for (let j = 0; j < 10000; j++) batch.push(i + j + 0.5);
    keep.push(batch);
  },
  refarray(i, targetBytes) {
    // One array of references to 100 objects, as long as the heap size asks: the worst case
    // per byte (a name of its own for every index, and few objects to pay for them).
    const shared = Array.from({ length: 100 }, (_, j) => ({ j }));
    const length = Math.max(1, Math.floor((targetBytes - process.memoryUsage().heapUsed) / 8));
    const refs = new Array(length);
    for (let j = 0; j < length; j++) refs[j] = shared[j % 100];
    keep.push(refs);
  },
  arrays(i) {
    const length = 1 << 20;
    keep.push(i % 20000 ? new Array(length).fill(i + 0.5) : Array.from({ length }, (_, j) => j));
  },
  strings_short(i) {
    const batch = new Array(10000);
    for (let j = 0; j < batch.length; j++) batch[j] = 'k' + (i + j);
    keep.push(batch);
  },
  strings_long(i) {
    const batch = new Array(100);
    for (let j = 0; j < batch.length; j++) batch[j] = latin1(512 + ((i + j) % 16) * 512, i + j);
    keep.push(batch);
  },
  buffers(i) {
    const batch = new Array(1000);
    for (let j = 0; j < batch.length; j++) {
      const k = i + j;
      batch[j] = k % 3 === 0 ? new ArrayBuffer(256 + (k % 8) * 64)
        : k % 3 === 1 ? Buffer.alloc(128 + (k % 8) * 64) : Buffer.allocUnsafe(100);
    }
    keep.push(batch);
  },
  maps(i) {
    // Maps and Sets of up to 100,000 entries (id -> object, strings), and small Maps.
    if (i % 100000 === 0) {
      bigMaps.push(new Map(), new Set());
      keep.push(bigMaps.at(-2), bigMaps.at(-1));
    }
    const [map, set] = bigMaps.slice(-2);
    for (let j = 0; j < 5000; j++) map.set(i + j, { v: j });
    for (let j = 0; j < 2500; j++) set.add('n' + (i + j));
    const small = [];
    for (let j = 0; j < 500; j++) small.push(new Map([['a', j], ['b', i], ['c', null]]));
    keep.push(small);
  },
  mixed(i) {
    // An application's state: customers indexed by id in one Map, each with strings, a Set,
    // a Date, a closure and orders of line items; some Buffers and number arrays.
    if (i === 0) keep.push(customers);
    for (let j = 0; j < 1000; j++) {
      const customer = new Customer(i + j);
      for (let k = 0; k < 3; k++) {
        customer.orders.push({
          at: new Date(1700000000000 + k),
          lines: [{ sku: `sku-${(j * 3 + k) % 5000}`, qty: k + 1, price: 9.99 + k }],
          note: k === 0 ? latin1(200, j) : null,
        });
      }
      customers.set(customer.id, customer);
    }
    keep.push(Buffer.alloc(4096), new Array(2000).fill(i + 0.25));
  },
};

function stats() {
  const spaces = {};
  for (const s of v8.getHeapSpaceStatistics()) {
    spaces[s.space_name] = {
      size: s.space_size, used: s.space_used_size,
      available: s.space_available_size, physical: s.physical_space_size,
    };
  }
  return {
    memory: process.memoryUsage(),
    heap: v8.getHeapStatistics(),
    spaces,
    code: v8.getHeapCodeStatistics(),
  };
}

function build(shape, targetBytes) {
  const add = SHAPES[shape];
  let i = 0;
  for (;;) {
    while (targetBytes > 0 && process.memoryUsage().heapUsed < targetBytes) {
      add(i, targetBytes);
      i += 10000;
    }
    global.gc();
    if (targetBytes === 0 || process.memoryUsage().heapUsed >= targetBytes) return;
  }
}

function main() {
  const [shape, mib] = process.argv.slice(2);
  if (!SHAPES[shape] || !(Number(mib) >= 0)) {
    console.error(`usage: node --expose-gc snapshot_workload.js (${Object.keys(SHAPES).join('|')}) MIB`);
    process.exit(2);
  }
  build(shape, Number(mib) * MIB);
  let last = performance.now();
  let maxGap = 0;
  let longGaps = 0;
  setInterval(() => {
    const now = performance.now();
    const gap = now - last;
    last = now;
    if (gap > maxGap) maxGap = gap;
    if (gap > 100) longGaps += 1;
  }, TICK_MS);
  const send = (value) => process.stdout.write(JSON.stringify(value) + '\n');
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'mark') {
      maxGap = 0;
      longGaps = 0;
      send({ marked: true });
    } else if (line === 'report') {
      send({ max_gap_ms: maxGap, gaps_over_100ms: longGaps, stats: stats() });
    }
  }).on('close', () => process.exit(0));
  send({ ready: true, shape, items: keep.length, stats: stats() });
}

main();
