// Churns short-lived garbage and keeps nothing: each line on stdin builds and drops 200,000
// small objects and strings over 20 turns of the event loop, then prints `grown 0`.
'use strict';
class Temporary {
  constructor(i) { this.i = i; this.text = `t${i}`; }
}
let sink = 0;
function churn(turns, done) {
  if (turns === 0) return done();
  let batch = [];
  for (let i = 0; i < 10000; i++) batch.push(new Temporary(i));
  sink += batch.length;
  batch = null;
  setImmediate(() => churn(turns - 1, done));
}
setInterval(() => {}, 1000);
process.stdin.on('data', () => churn(20, () => console.log(`grown 0 ${sink}`)));
churn(20, () => console.log('ready'));
