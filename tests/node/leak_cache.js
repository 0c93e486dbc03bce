// A cache of plain objects that is never evicted: each line on stdin caches 500 more
// `{sku, qty, price}` entries in a Map.
'use strict';
const cache = new Map();
const grow = () => {
  for (let i = 0; i < 500; i++) {
    const n = cache.size;
    cache.set(`item-${n}`, { sku: `sku-${n}`, qty: n % 7, price: n * 3 });
  }
};
grow();
setInterval(() => {}, 1000);
process.stdin.on('data', () => { grow(); console.log(`grown ${cache.size}`); });
console.log('ready');
