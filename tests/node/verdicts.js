// The programs memtui's verdicts are tried on: `verdicts.js MODE`. Each serves a stream of
// simulated requests, 50 a second, and every request leaves medium-lived objects behind (a
// rolling window of the last 60,000 results), as a server under load does: they reach the old
// generation, so V8 runs a major GC every few seconds of its own accord. MODE says what else
// each request does:
//   named        keeps a LeakedSession object per request in an array (a leak of named objects)
//   closure      replaces a thing whose method closes over the previous thing (closure leak)
//   listener     adds a listener to a shared emitter and never removes it
//   request_map  keeps each request's context in a Map keyed by its request id
//   churn        nothing: short-lived and medium-lived garbage only
//   plateau      fills a cache for 10 s from the first line on stdin, then only reads it
//   pressure     allocates hard: 50 requests a second, each with four times the garbage
//                and three times the medium-lived objects, kept among the last 300,000 (run
//                with a 1 MiB young generation: some 14% of the time in GC)
//   busy         runs 15 ms of work per turn (waiting in Atomics.wait, which costs no CPU)
//   blocked      blocks its event loop for 1.2 s every 3 s (Atomics.wait too)
'use strict';
const { EventEmitter } = require('events');

const mode = process.argv[2];
const REQUEST_MS = 20;
const recent = new Array(mode === 'pressure' ? 300000 : 60000);
let served = 0;

class LeakedSession {
  constructor(id) {
    this.id = id;
    this.user = `user-${id % 1000}`;
    this.openedAt = Date.now();
    this.trail = [id, id + 1, id + 2];
  }
}

const sessions = [];
const bus = new EventEmitter();
bus.setMaxListeners(0);
const contexts = new Map();
const cache = [];
let theThing = null;
let fillingSince = null;
if (mode === 'plateau') process.stdin.once('data', () => { fillingSince = Date.now(); });
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function replaceThing(n) {
  const originalThing = theThing;
  const unused = function () { return originalThing ? 'hi' : ''; };
  theThing = { longStr: `${n}`.padEnd(200, '*'), someMethod: function () { return unused; } };
}

function serve(kept, garbage) {
  for (let i = 0; i < kept; i++) recent[(served * kept + i) % recent.length] = { served, text: `result ${served}` };
  let thrown = [];
  for (let i = 0; i < garbage; i++) thrown.push({ i, s: String(i) });
  thrown = null;
}

const perRequest = {
  named(n) { for (let i = 0; i < 30; i++) sessions.push(new LeakedSession(n * 30 + i)); },
  closure(n) { for (let i = 0; i < 30; i++) replaceThing(n * 30 + i); },
  listener(n) { for (let i = 0; i < 30; i++) bus.on('reload', function onReload() { return n + i; }); },
  request_map(n) {
    for (let i = 0; i < 30; i++) {
      const id = `req-${n}-${i}`;
      contexts.set(id, { id, path: `/api/items/${n}`, startedAt: Date.now() });
    }
  },
  churn() {},
  plateau() {
    if (fillingSince !== null && Date.now() - fillingSince < 10000) {
      for (let i = 0; i < 200; i++) cache.push({ key: `k${cache.length}`, value: cache.length });
    }
  },
};

if (mode === 'busy') {
  const turn = () => { Atomics.wait(sleeper, 0, 0, 15); setImmediate(turn); };
  turn();
} else if (mode === 'blocked') {
  setInterval(() => Atomics.wait(sleeper, 0, 0, 1200), 3000);
} else if (mode === 'pressure') {
  setInterval(() => { serve(6000, 20000); served++; }, REQUEST_MS);
} else {
  setInterval(() => { perRequest[mode](served); serve(2000, 5000); served++; }, REQUEST_MS);
}
console.log('ready');
