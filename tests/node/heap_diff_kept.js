// Keeps `Kept` objects in a module-level array and writes heap snapshots with known changes.
// MEMTUI_OUT: directory for the snapshots. MEMTUI_STEPS: "base" writes only before.heapsnapshot;
// "diff" also allocates 500 more Kept, frees the 200 oldest and writes after.heapsnapshot.
// A Holder owns the only reference to a 1 MiB ArrayBuffer and `chain` is a list of 10 Links,
// for retained size checks; a WeakValue is held only by a WeakMap entry whose key is live.
const path = require('path');
const v8 = require('v8');

class Kept {
  constructor(index) {
    this.index = index;
    this.label = 'kept';
  }
}

class Link {
  constructor(next) {
    this.next = next;
  }
}

class WeakValue {}

class Holder {
  constructor(bytes) {
    this.buffer = new ArrayBuffer(bytes);
  }
}

const cache = [];
for (let i = 0; i < 1000; i++) cache.push(new Kept(i));
const holder = new Holder(1 << 20);
let chain = null;
for (let i = 0; i < 10; i++) chain = new Link(chain);
const weakKey = { role: 'key' };
const weakMap = new WeakMap([[weakKey, new WeakValue()]]);
setInterval(() => [cache, holder, chain, weakKey, weakMap], 1000);

const out = process.env.MEMTUI_OUT;
v8.writeHeapSnapshot(path.join(out, 'before.heapsnapshot'));
if (process.env.MEMTUI_STEPS === 'diff') {
  for (let i = 0; i < 500; i++) cache.push(new Kept(1000 + i));
  cache.splice(0, 200);
  v8.writeHeapSnapshot(path.join(out, 'after.heapsnapshot'));
}
console.log('ready');
