// Closes its inspector, whoever opened it, on "close" from stdin, and keeps running.
const inspector = require('inspector');
setInterval(() => {}, 1000);
console.log('ready');
process.stdin.on('data', () => {
  inspector.close();
  console.log('closed');
});
