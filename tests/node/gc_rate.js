// Collects at a chosen rate and prints every collection its own gc PerformanceObserver sees,
// `gc <kind> <epoch ms when it ended>` (kind 1 minor, 4 major, 8 incremental, 16 weak
// callbacks). `--expose-gc gc_rate.js forced N`: N forced scavenges in one burst each second and
// next to no allocation otherwise; `gc_rate.js churn`: short-lived garbage in batches, one a
// turn, hundreds of collections a second.
const { PerformanceObserver, performance } = require('perf_hooks');
const [mode, count] = [process.argv[2] || 'forced', Number(process.argv[3] || 5)];
new PerformanceObserver((list) => {
  const lines = list.getEntries().map((entry) => {
    const ended = performance.timeOrigin + entry.startTime + entry.duration;
    return `gc ${entry.detail.kind} ${ended.toFixed(3)}\n`;
  });
  process.stdout.write(lines.join(''));
}).observe({ entryTypes: ['gc'] });
if (mode === 'forced') {
  setInterval(() => {
    for (let i = 0; i < count; i++) global.gc({ type: 'minor' });
  }, 1000);
} else {
  let sink = 0;
  const batch = () => {
    for (let i = 0; i < 20000; i++) sink += new Array(16).fill(i).length;
    setImmediate(batch);
  };
  batch();
}
console.log('ready');
