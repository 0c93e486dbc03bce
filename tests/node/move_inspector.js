// Opens its inspector itself; on "move" from stdin closes it and opens it on another random
// port, and on "close" closes it for good.
const inspector = require('inspector');
inspector.open(0, '127.0.0.1');
setInterval(() => {}, 1000);
console.log('ready ' + inspector.url());
process.stdin.on('data', (data) => {
  const command = String(data).trim();
  inspector.close();
  if (command === 'move') {
    inspector.open(0, '127.0.0.1');
    console.log('moved ' + inspector.url());
  } else {
    console.log('closed');
  }
});
