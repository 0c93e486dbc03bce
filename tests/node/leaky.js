// Grows a never-evicted cache steadily and churns short-lived garbage.
class LeakedRecord {
  constructor(i) {
    this.id = i;
    this.payload = 'x'.repeat(64) + i;
  }
}
const cache = [];
let n = 0;
setInterval(() => {
  for (let i = 0; i < 2000; i++) cache.push(new LeakedRecord(n++));
  let garbage = [];
  for (let i = 0; i < 20000; i++) garbage.push({ i, s: String(i) });
  garbage = null;
}, 50);
console.log('ready');
