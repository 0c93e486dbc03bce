// Class summary of a heap snapshot with VS Code's @vscode/v8-heap-parser (for heap_parse.py).
// Usage: node vscode_summary.js FILE  -> one JSON line {"classes", "objects", "inner_s"}
'use strict';
const fs = require('fs');
const { decode_bytes } = require('@vscode/v8-heap-parser');

const started = process.hrtime.bigint();
const graph = decode_bytes(fs.readFileSync(process.argv[2]));
const noRetained = process.argv[3] !== "--retained";
const groups = graph.get_class_groups(0, 0xffffffff, noRetained);
let objects = 0;
for (const group of groups) objects += group.children_len;
const inner = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ classes: groups.length, objects, inner_s: inner }));
