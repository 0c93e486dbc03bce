// Grows once and plateaus: builds a 20,000-entry lookup table at start, then each line on
// stdin serves 2,000 lookups from it (answers are built and dropped), keeping nothing new.
'use strict';
class Entry {
  constructor(i) { this.key = `key-${i}`; this.value = i * 2; }
}
const table = new Map();
for (let i = 0; i < 20000; i++) table.set(`key-${i}`, new Entry(i));
let served = 0;
setInterval(() => {}, 1000);
process.stdin.on('data', () => {
  for (let i = 0; i < 2000; i++) served += JSON.stringify(table.get(`key-${i * 7 % 20000}`)).length;
  console.log(`grown ${table.size}`);
});
console.log('ready');
