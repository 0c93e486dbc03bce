// Builds a large heap (about 3M nodes, 9M edges) and writes a snapshot to $HEAP_SNAPSHOT_PATH.
// For measuring the parser by hand: node --max-old-space-size=8000 tests/node/heap_big.js
const v8 = require('v8');

class BigRecord {
  constructor(i) {
    this.name = 'record-' + i;
    this.detail = { sku: 'sku-' + i, owner: this };
  }
}

const count = Number(process.env.HEAP_BIG_RECORDS || 750000);
const records = new Array(count);
for (let i = 0; i < count; i++) records[i] = new BigRecord(i);
globalThis.bigRecords = records;
console.log(v8.writeHeapSnapshot(process.env.HEAP_SNAPSHOT_PATH));
