// Builds a heap with known contents, writes a heap snapshot to $HEAP_SNAPSHOT_PATH, prints its path.
const v8 = require('v8');
const CustomerA = require('./heap_customer_a');
const CustomerB = require('./heap_customer_b');

class LeakyWidget {
  constructor(i) {
    this.index = i;
    this.label = 'widget-' + i;
  }
}

function makeLeakyClosure(i) {
  return function leakyClosure() { return i; };
}

const kept = {
  widgets: Array.from({ length: 1234 }, (_, i) => new LeakyWidget(i)),
  items: [],
  customersA: Array.from({ length: 10 }, (_, i) => new CustomerA(i)),
  customersB: Array.from({ length: 20 }, (_, i) => new CustomerB('c' + i)),
  closures: Array.from({ length: 300 }, (_, i) => makeLeakyClosure(i)),
  flat: [],
  cons: [],
  sliced: [],
  maps: [],
  buffers: [Buffer.alloc(100000, 1), Buffer.alloc(200000, 2)],
  bigints: Array.from({ length: 5 }, (_, i) => 10n ** 40n + BigInt(i)),
  symbols: Array.from({ length: 4 }, (_, i) => Symbol('heap-marker-' + i)),
  regexps: [/heap-marker-regexp/g],
};
for (let i = 0; i < 2000; i++) {
  const item = {};
  item.sku = 'sku-' + i;
  item.qty = 'qty-' + i;
  kept.items.push(item);
}
const base = 'sliced-source-' + 'abcdefghij'.repeat(20);
for (let i = 0; i < 50; i++) {
  kept.flat.push(`flat-marker-${i}-${'f'.repeat(20)}`);
  kept.cons.push(kept.flat[i] + '|cons-marker|' + i);
  kept.sliced.push((base + i).substring(3, 100));
}
for (let i = 0; i < 7; i++) {
  kept.maps.push(new Map(Array.from({ length: 5 }, (_, j) => ['k' + j, { j }])));
}
globalThis.heapContents = kept;
console.log(v8.writeHeapSnapshot(process.env.HEAP_SNAPSHOT_PATH));
