// An event-listener leak: every request adds a listener to the server that is never removed.
// Each line on stdin sends 500 more requests; the program prints `grown N` after them.
'use strict';
const http = require('http');

let handled = 0;
const server = http.createServer((req, res) => {
  server.on('request', function LeakFunc() { return handled; });
  handled++;
  res.end('ok');
});
server.setMaxListeners(0);

function send(port, count, done) {
  if (count === 0) return done();
  http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
    res.resume();
    res.on('end', () => send(port, count - 1, done));
  });
}

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const grow = () => send(port, 500, () => console.log(`grown ${handled}`));
  process.stdin.on('data', grow);
  send(port, 500, () => console.log('ready'));
});
