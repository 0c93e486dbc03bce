// Instances of the program's own class kept in a module-level array that only grows.
// Each line on stdin keeps 500 more.
'use strict';
class LeakyRecord {
  constructor(id) {
    this.id = id;
    this.payload = `record ${id}`;
    this.createdAt = Date.now();
  }
}

const kept = [];
const grow = () => { for (let i = 0; i < 500; i++) kept.push(new LeakyRecord(kept.length)); };
grow();
setInterval(() => {}, 1000);
process.stdin.on('data', () => { grow(); console.log(`grown ${kept.length}`); });
console.log('ready');
