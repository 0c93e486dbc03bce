// Issue 15: how close the probe's GC estimates come to the truth, read once a second.
// `node gc_estimate.js PROBE WORKLOAD [SECONDS]` loads PROBE (a memtui/probe.js, this one or
// an older version's) in this process, installs it, runs WORKLOAD and, with a gc
// PerformanceObserver of its own always on as the reference, reads both every second. It
// prints one JSON line: the workload's collections a second, and the probe's minor-GC count
// and pause time against the reference, over all reads but the first two (the warm-up), per
// 1 s read (lowest, highest) and per 3 s span. WORKLOAD:
//   churn    short-lived arrays in batches, one a turn, without a pause (hundreds of
//            collections a second);
//   bursty   the same for 300 ms of every 1,300 ms, idle otherwise;
//   aligned  the same from 400 to 850 ms of each second after the install, idle otherwise:
//            idle when the probe's observer goes on at the start of its second.
'use strict';
const fs = require('fs');
const vm = require('vm');
const { PerformanceObserver, performance } = require('perf_hooks');

const [probePath, workload = 'churn', secondsArg = '12'] = process.argv.slice(2);
const seconds = Number(secondsArg);
const WARMUP_READS = 2;
const probe = vm.runInThisContext(fs.readFileSync(probePath, 'utf8'));
const KEY = Symbol.for('memtui.probe');

const reference = { minor: 0, pauseMs: 0, all: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    reference.all += 1;
    if (entry.detail.kind <= 2) reference.minor += 1;
    reference.pauseMs += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });
probe(require, 'install', 'bench', 1);

let sink = 0;
const batch = () => {
  for (let i = 0; i < 20000; i++) sink += new Array(16).fill(i).length;
};
const started = performance.now();
const busyBetween = (period, from, to) => {
  const run = () => {
    const phase = (performance.now() - started) % period;
    if (phase >= from && phase < to) {
      batch();
      setImmediate(run);
    } else {
      setTimeout(run, (phase < from ? from : period + from) - phase);
    }
  };
  run();
};
if (workload === 'churn') busyBetween(1, 0, 1);
else if (workload === 'bursty') busyBetween(1300, 0, 300);
else if (workload === 'aligned') busyBetween(1000, 400, 850);
else throw new Error(`unknown workload ${workload}`);

const read = () => ({ reading: globalThis[KEY].sample('bench').reading, ...reference });
const rows = [];
let last = read();
const timer = setInterval(() => {
  const now = read();
  rows.push({
    estimated: now.reading.gc.minor - last.reading.gc.minor,
    seen: now.minor - last.minor,
    estimatedPauseMs: now.reading.gc_pause_ms - last.reading.gc_pause_ms,
    seenPauseMs: now.pauseMs - last.pauseMs,
    all: now.all - last.all,
  });
  last = now;
  if (rows.length < seconds) return;
  clearInterval(timer);
  const used = rows.slice(WARMUP_READS);
  const sum = (some, key) => some.reduce((total, row) => total + row[key], 0);
  const ratio = (some) => sum(some, 'estimated') / sum(some, 'seen');
  const perRead = used.filter((row) => row.seen > 0).map((row) => row.estimated / row.seen);
  const perSpan = [];
  for (let i = 0; i + 3 <= used.length; i += 3) perSpan.push(ratio(used.slice(i, i + 3)));
  const round = (x) => Math.round(x * 100) / 100;
  console.log(JSON.stringify({
    node: process.version,
    workload,
    probe: probePath,
    collections_per_s: Math.round(sum(used, 'all') / used.length),
    minor: round(ratio(used)),
    pause: round(sum(used, 'estimatedPauseMs') / sum(used, 'seenPauseMs')),
    minor_per_read: [round(Math.min(...perRead)), round(Math.max(...perRead))],
    minor_per_3s: perSpan.map(round),
    sink: sink > 0,
  }));
  process.exit(0);
}, 1000);
