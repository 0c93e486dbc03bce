// memtui's demo: a small web app that serves itself traffic and leaks slowly.
// Every request to /login stores a SessionRecord in a cache that is never evicted
// (about 1.5 MB a minute); every request also builds short-lived garbage.
'use strict';

const http = require('http');

class SessionRecord {
  constructor(id, user, agent) {
    this.id = id;
    this.user = user;
    this.agent = agent;
    this.createdAt = Date.now();
    this.history = [];
    for (let i = 0; i < 8; i++) this.history.push({ page: `/items/${i}`, at: this.createdAt + i });
  }
}

const sessionCache = new Map();
let nextSession = 0;

function renderCatalog() {
  const items = [];
  for (let i = 0; i < 400; i++) {
    items.push({ sku: `sku-${i}`, name: `Item ${i}`, price: (i * 7) % 100, tags: ['a', 'b'] });
  }
  return JSON.stringify(items.slice(0, 20));
}

const routes = {
  '/': (req, res) => res.end('memtui demo app\n'),
  '/catalog': (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(renderCatalog());
  },
  '/login': (req, res) => {
    const id = `s${nextSession++}`;
    sessionCache.set(id, new SessionRecord(id, `user${nextSession % 500}`, req.headers['user-agent'] || 'self'));
    res.end(`session ${id}\n`);
  },
  '/stats': (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ sessions: sessionCache.size, memory: process.memoryUsage() }));
  },
};

const server = http.createServer((req, res) => {
  const route = routes[req.url] || ((_, r) => { r.statusCode = 404; r.end('not found\n'); });
  route(req, res);
});

function request(port, path) {
  const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => res.resume());
  req.on('error', () => {});
}

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  setInterval(() => {
    request(port, '/login');
    request(port, '/catalog');
  }, 50);
  setInterval(() => request(port, '/stats'), 1000);
  console.log(`memtui demo listening on http://127.0.0.1:${port} (pid ${process.pid})`);
});
