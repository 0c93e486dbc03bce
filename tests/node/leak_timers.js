// Timers that are never cleared: each line on stdin starts 200 more polling jobs, each an
// interval whose callback holds its own buffer of results.
'use strict';
let started = 0;

function startPolling(job) {
  const results = new Array(64).fill(job);
  setInterval(function pollJob() { results[job % 64] = Date.now(); }, 60 * 60 * 1000);
}

const grow = () => { for (let i = 0; i < 200; i++) startPolling(started++); };
grow();
process.stdin.on('data', () => { grow(); console.log(`grown ${started}`); });
console.log('ready');
