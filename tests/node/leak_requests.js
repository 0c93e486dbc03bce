// A Map keyed by request that is never cleared: the server remembers every request it
// served, keyed by its IncomingMessage. Each line on stdin sends 300 more requests; the
// program prints `grown N` after them.
'use strict';
const http = require('http');

const seen = new Map();
const server = http.createServer((req, res) => {
  seen.set(req, { url: req.url, at: Date.now() });
  res.end('ok');
});

function send(port, count, done) {
  if (count === 0) return done();
  http.get({ host: '127.0.0.1', port, path: `/item/${count}`, agent: false }, (res) => {
    res.resume();
    res.on('end', () => send(port, count - 1, done));
  });
}

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdin.on('data', () => send(port, 300, () => console.log(`grown ${seen.size}`)));
  send(port, 300, () => console.log('ready'));
});
