// Class summary of a heap snapshot with memlab's parser (for heap_parse.py).
// Usage: node memlab_summary.js FILE  -> one JSON line {"classes", "objects", "inner_s"}
'use strict';
const { utils } = require('@memlab/core');

const CONSTRUCTOR_NAMED = new Set(['object', 'native']);

async function main() {
  const started = process.hrtime.bigint();
  const snapshot = await utils.getSnapshotFromFile(process.argv[2], { buildNodeIdIndex: false });
  const classes = new Map();
  let objects = 0;
  snapshot.nodes.forEach((node) => {
    if (node.self_size === 0) return;
    const label = node.type === 'closure' ? 'Function'
      : CONSTRUCTOR_NAMED.has(node.type) ? node.name : `(${node.type})`;
    const entry = classes.get(label);
    if (entry) {
      entry.count++;
      entry.selfSize += node.self_size;
    } else {
      classes.set(label, { count: 1, selfSize: node.self_size });
    }
    objects++;
  });
  const inner = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ classes: classes.size, objects, inner_s: inner }));
}

main();
