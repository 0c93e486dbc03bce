// Opens its inspector on a random port; on SIGUSR2 closes and reopens it on the same port.
const inspector = require('inspector');
inspector.open(0, '127.0.0.1');
const port = Number(new URL(inspector.url()).port);
process.on('SIGUSR2', () => {
  inspector.close();
  inspector.open(port, '127.0.0.1');
  console.log('reopened ' + inspector.url());
});
setInterval(() => {}, 1000);
console.log('ready ' + inspector.url());
