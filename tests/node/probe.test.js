// Tests of memtui/probe.js run by `node --test --expose-gc` directly (tests/test_probe.py runs them).
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const source = fs.readFileSync(path.join(__dirname, '..', '..', 'memtui', 'probe.js'), 'utf8');
const probe = vm.runInThisContext(source);
const KEY = Symbol.for('memtui.probe');
const KEEPER = Symbol.for('memtui.keeper');
const sample = (client) => globalThis[KEY].sample(client);
const settle = () => new Promise((resolve) => setImmediate(resolve));
const check = () => globalThis[KEEPER].check();

// A target whose inspector listens on 127.0.0.1:PORT, with `connections` TCP connections to it
// in /proc/self/net/tcp; close() is counted.
function fakeTarget(port = 9229) {
  const target = { url: `ws://127.0.0.1:${port}/uuid`, connections: 0, closed: 0, proc: true };
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const table = () => {
    const rows = ['  sl  local_address rem_address   st tx_queue rx_queue',
      `   0: 0100007F:${hex} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0`,
      `   1: 0100007F:C350 0100007F:${hex} 01 00000000:00000000 00:00000000 00000000     0`];
    for (let i = 0; i < target.connections; i++) {
      rows.push(`  ${i + 2}: 0100007F:${hex} 0100007F:C35${i} 01 00000000:00000000 00:00000000 0`);
    }
    return rows.join('\n') + '\n';
  };
  const inspector = {
    url: () => target.url,
    close: () => { target.closed += 1; target.url = undefined; },
    open: (openPort, host) => {
      target.opened.push([openPort, host]);
      target.url = `ws://${host}:40001/moved`;
      process.debugPort = 40001;
    },
  };
  target.opened = [];
  const fs = {
    readFileSync: (file) => {
      if (!target.proc) throw new Error('EACCES');
      return file.endsWith('tcp6') ? '  sl  local_address\n' : table();
    },
  };
  target.require = (name) => (name === 'inspector' ? inspector : name === 'fs' ? fs : require(name));
  return target;
}

function cleanUp() {
  const keeper = globalThis[KEEPER];
  if (keeper && keeper.timer) clearTimeout(keeper.timer);
  delete globalThis[KEEPER];
  delete globalThis[KEY];
}

test('install answers ok and registers the client', () => {
  assert.deepStrictEqual(probe(require, 'install', 'a'),
    { ok: true, clients: 1, added: true, opened: false });
  probe(require, 'uninstall', 'a');
  cleanUp();
});

test('a reading has every field of a sample', () => {
  probe(require, 'install', 'a');
  const { ok, reading } = sample('a');
  assert.ok(ok);
  for (const key of ['rss', 'heap_total', 'heap_used', 'external', 'array_buffers', 'heap_limit']) {
    assert.ok(Number.isInteger(reading[key]) && reading[key] >= 0, key);
  }
  assert.strictEqual(reading.pid, process.pid);
  assert.ok(reading.heap_spaces.some(([name]) => name === 'old_space'));
  assert.ok(reading.elu >= 0 && reading.elu <= 1);
  probe(require, 'uninstall', 'a');
});

test('forced major GCs are counted with their pause time, never going backwards', async () => {
  probe(require, 'install', 'a');
  const before = sample('a').reading;
  global.gc();
  global.gc();
  await settle();
  await settle();
  const after = sample('a').reading;
  assert.ok(after.gc.major >= before.gc.major + 2, JSON.stringify(after.gc));
  assert.ok(after.gc_pause_ms > before.gc_pause_ms);
  probe(require, 'uninstall', 'a');
});

test('counts are per client, since that client attached', async () => {
  probe(require, 'install', 'first');
  global.gc();
  await settle();
  await settle();
  probe(require, 'install', 'second');
  assert.ok(sample('first').reading.gc.major >= 1);
  assert.strictEqual(sample('second').reading.gc.major, 0);
  probe(require, 'uninstall', 'first');
  probe(require, 'uninstall', 'second');
});

test('installing twice is idempotent and one uninstall removes it', () => {
  probe(require, 'install', 'a');
  assert.deepStrictEqual(probe(require, 'install', 'a'),
    { ok: true, clients: 1, added: false, opened: false });
  assert.deepStrictEqual(probe(require, 'uninstall', 'a'),
    { ok: true, clients: 0, closing: false });
  assert.strictEqual(globalThis[KEY], undefined);
  cleanUp();
});

test('a second client keeps the probe alive when the first detaches', () => {
  probe(require, 'install', 'a');
  probe(require, 'install', 'b');
  probe(require, 'uninstall', 'a');
  assert.ok(sample('b').ok);
  assert.strictEqual(sample('a').ok, false);
  probe(require, 'uninstall', 'b');
  assert.strictEqual(globalThis[KEY], undefined);
});

test('a probe of another version is replaced on install, keeping what it knew', () => {
  const target = fakeTarget();
  globalThis[KEY] = { version: 3, inspector: { opened: true, keep: false },
    observer: { disconnect() { throw new Error('boom'); } } };
  assert.deepStrictEqual(probe(target.require, 'install', 'a'),
    { ok: true, clients: 1, added: true, opened: true });
  assert.strictEqual(globalThis[KEY].version, 4);
  probe(target.require, 'uninstall', 'a');
  cleanUp();
});

test('nothing throws into the target: failures come back as {ok: false}', () => {
  probe(require, 'install', 'a');
  const real = process.memoryUsage;
  process.memoryUsage = () => { throw new Error('EMFILE'); };
  try {
    assert.deepStrictEqual(sample('a'), { ok: false, error: 'EMFILE' });
  } finally {
    process.memoryUsage = real;
  }
  const broken = () => { throw new Error('no require'); };
  probe(require, 'uninstall', 'a');
  assert.deepStrictEqual(probe(broken, 'install', 'a'), { ok: false, error: 'no require' });
  assert.deepStrictEqual(probe(require, 'uninstall', 'nobody'),
    { ok: true, clients: 0, closing: false });
  assert.strictEqual(probe(require, 'bogus', 'a').ok, false);
  cleanUp();
});

test('the observer is disconnected on uninstall', async () => {
  probe(require, 'install', 'a');
  const state = globalThis[KEY];
  probe(require, 'uninstall', 'a');
  const counted = state.counts.major;
  global.gc();
  await settle();
  await settle();
  assert.strictEqual(state.counts.major, counted);
});

test('counts by kind and pause time agree with a gc PerformanceObserver', async () => {
  const { PerformanceObserver } = require('node:perf_hooks');
  const kinds = { 1: 'minor', 4: 'major', 8: 'incremental', 16: 'weakcb' };
  const seen = { minor: 0, major: 0, incremental: 0, weakcb: 0 };
  let pauseMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      seen[kinds[entry.detail.kind]] += 1;
      pauseMs += entry.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  probe(require, 'install', 'a');
  const keep = [];
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 20000; i++) keep[(round * 20000 + i) % 50000] = { round, i, text: 'x' + i };
    if (round % 10 === 0) global.gc();
    await settle();
  }
  await settle();
  await settle();
  const { gc, gc_pause_ms: probePauseMs } = sample('a').reading;
  observer.disconnect();
  probe(require, 'uninstall', 'a');
  assert.deepStrictEqual(gc, seen);
  assert.ok(gc.minor > 0 && gc.major >= 4, JSON.stringify(gc));
  assert.ok(Math.abs(probePauseMs - pauseMs) <= 0.05 * pauseMs + 1, `${probePauseMs} vs ${pauseMs}`);
});

test('a probe whose clients all went silent removes itself', () => {
  const target = fakeTarget();
  target.connections = 1;
  probe(target.require, 'install', 'a');
  const state = globalThis[KEY];
  check();
  assert.strictEqual(globalThis[KEY], state);
  state.clients.get('a').lastSeen = 0;
  check();
  assert.strictEqual(globalThis[KEY], undefined);
  assert.strictEqual(globalThis[KEEPER], undefined);
  cleanUp();
});

test('the keeper closes an inspector a memtui opened once no client is left', () => {
  const target = fakeTarget();
  target.connections = 1;
  probe(target.require, 'install', 'opener', 1, { opened: true, keep: false });
  probe(target.require, 'install', 'joiner', 1, { opened: false, keep: false });
  assert.deepStrictEqual(probe(target.require, 'uninstall', 'opener'),
    { ok: true, clients: 1, closing: false });
  check();
  assert.deepStrictEqual(probe(target.require, 'uninstall', 'joiner'),
    { ok: true, clients: 0, closing: true });
  check();
  assert.strictEqual(target.closed, 0, 'not while a client is connected');
  target.connections = 0;
  check();
  assert.strictEqual(target.closed, 1);
  assert.strictEqual(globalThis[KEEPER], undefined);
  cleanUp();
});

test('one memtui asked to keep it open wins, and one the program opened is left alone', () => {
  const kept = fakeTarget();
  probe(kept.require, 'install', 'opener', 1, { opened: true, keep: false });
  probe(kept.require, 'install', 'keeper', 1, { opened: false, keep: true });
  probe(kept.require, 'uninstall', 'keeper');
  assert.strictEqual(probe(kept.require, 'uninstall', 'opener').closing, false);
  check();
  assert.strictEqual(kept.closed, 0);
  cleanUp();
  const programs = fakeTarget();
  probe(programs.require, 'install', 'plain', 1);
  assert.strictEqual(probe(programs.require, 'uninstall', 'plain').closing, false);
  check();
  assert.strictEqual(programs.closed, 0);
  cleanUp();
});

test('an inspector the program reopened itself is not closed', () => {
  const target = fakeTarget();
  probe(target.require, 'install', 'a', 1, { opened: true, keep: false });
  target.url = 'ws://127.0.0.1:9229/another-uuid';
  probe(target.require, 'uninstall', 'a');
  check();
  assert.strictEqual(target.closed, 0);
  assert.strictEqual(globalThis[KEEPER], undefined);
  cleanUp();
});

test('a release closes the inspector a failed attach opened, registering no one', () => {
  const target = fakeTarget();
  assert.deepStrictEqual(probe(target.require, 'release', null, 0, { opened: true }),
    { ok: true, clients: 0, closing: true });
  assert.strictEqual(globalThis[KEY], undefined);
  check();
  assert.strictEqual(target.closed, 1);
  cleanUp();
});

test('clients are forgotten once no connection to the inspector is left', () => {
  const target = fakeTarget();
  target.connections = 1;
  probe(target.require, 'install', 'killed', 1, { opened: true, keep: false });
  const state = globalThis[KEY];
  state.clients.get('killed').lastSeen = Date.now() - 2000;
  check();
  assert.ok(state.clients.has('killed'), 'silent for less than its quiet time');
  state.clients.get('killed').lastSeen = Date.now() - 4000;
  check();
  assert.ok(state.clients.has('killed'), 'quiet, but still connected');
  target.connections = 0;
  check();
  assert.strictEqual(globalThis[KEY], undefined);
  assert.strictEqual(target.closed, 1);
  cleanUp();
});

test('without the TCP tables, the keeper closes after a quiet second', () => {
  const target = fakeTarget();
  target.proc = false;
  probe(target.require, 'install', 'a', 1, { opened: true, keep: false });
  probe(target.require, 'uninstall', 'a');
  check();
  assert.strictEqual(target.closed, 0);
  globalThis[KEEPER].lastCall = Date.now() - 1000;
  check();
  assert.strictEqual(target.closed, 1);
  cleanUp();
});

test('an inspector opened on a fixed port moves to an ephemeral one, then closes there', () => {
  const target = fakeTarget();
  const debugPort = process.debugPort;
  target.connections = 1;
  probe(target.require, 'install', 'a', 1, { opened: true, keep: false });
  assert.deepStrictEqual(probe(target.require, 'move', 'a', 1, { opened: true, keep: false }),
    { ok: true, moving: true });
  check();
  assert.deepStrictEqual(target.opened, [], 'not while the mover is still connected');
  target.connections = 0;
  check();
  assert.deepStrictEqual(target.opened, [[0, '127.0.0.1']]);
  assert.strictEqual(target.closed, 1);
  assert.ok(globalThis[KEY].clients.has('a'), 'the mover stays registered meanwhile');
  probe(target.require, 'uninstall', 'a');
  check();
  assert.strictEqual(target.closed, 2);
  assert.strictEqual(process.debugPort, debugPort, 'the port SIGUSR1 uses is restored');
  cleanUp();
});

test('only an inspector a memtui opened, and not kept, is moved', () => {
  const target = fakeTarget();
  probe(target.require, 'install', 'a', 1, { opened: false, keep: false });
  assert.deepStrictEqual(probe(target.require, 'move', 'a', 1), { ok: true, moving: false });
  probe(target.require, 'uninstall', 'a');
  cleanUp();
});

test('a silent client is forgotten after three of its intervals, and at least a minute', () => {
  const target = fakeTarget();
  target.connections = 1;
  probe(target.require, 'install', 'slow', 100);
  probe(target.require, 'install', 'fast', 1);
  const state = globalThis[KEY];
  const now = Date.now();
  state.clients.get('slow').lastSeen = now - 120 * 1000;
  state.clients.get('fast').lastSeen = now - 59 * 1000;
  check();
  assert.deepStrictEqual([...state.clients.keys()], ['slow', 'fast']);
  state.clients.get('fast').lastSeen = now - 61 * 1000;
  check();
  assert.deepStrictEqual([...state.clients.keys()], ['slow']);
  state.clients.get('slow').lastSeen = now - 301 * 1000;
  check();
  assert.strictEqual(globalThis[KEY], undefined);
  cleanUp();
});

test('an installed probe does not keep the process alive', () => {
  const { spawnSync } = require('node:child_process');
  const program = `(${source})(require, 'install', 'a'); console.log('installed');`;
  const child = spawnSync(process.execPath, ['-e', program], { encoding: 'utf8', timeout: 20000 });
  assert.strictEqual(child.status, 0, child.stderr);
  assert.strictEqual(child.stdout.trim(), 'installed');
});
