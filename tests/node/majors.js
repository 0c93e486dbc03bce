// Forces a major GC every 250 ms while its retained set grows, and prints after each one the
// heap used and the time: `gc <epoch ms> <bytes>`. Needs --expose-gc.
const v8 = require('v8');
const retained = [];
setInterval(() => {
  for (let i = 0; i < 20000; i++) retained.push({ i, text: 'r' + i });
  global.gc();
  console.log(`gc ${Date.now()} ${v8.getHeapStatistics().used_heap_size}`);
}, 250);
console.log('ready');
