// Closes its inspector on "cycle" from stdin and opens it again on the same port.
const inspector = require('inspector');
inspector.open(0, '127.0.0.1');
const port = Number(new URL(inspector.url()).port);
setInterval(() => {}, 1000);
console.log('ready');
process.stdin.on('data', () => {
  inspector.close();
  console.log('closed');
  setTimeout(() => { inspector.open(port, '127.0.0.1'); console.log('reopened'); }, 500);
});
