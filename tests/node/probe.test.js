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
const sample = (client) => globalThis[KEY].sample(client);
const settle = () => new Promise((resolve) => setImmediate(resolve));

test('install answers ok and registers the client', () => {
  assert.deepStrictEqual(probe(require, 'install', 'a'), { ok: true, clients: 1, added: true });
  probe(require, 'uninstall', 'a');
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
  assert.deepStrictEqual(probe(require, 'install', 'a'), { ok: true, clients: 1, added: false });
  assert.deepStrictEqual(probe(require, 'uninstall', 'a'),
    { ok: true, clients: 0, closeInspector: false });
  assert.strictEqual(globalThis[KEY], undefined);
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

test('a probe of another version is replaced on install', () => {
  globalThis[KEY] = { version: 0, observer: { disconnect() { throw new Error('boom'); } } };
  assert.deepStrictEqual(probe(require, 'install', 'a'), { ok: true, clients: 1, added: true });
  assert.strictEqual(globalThis[KEY].version, 3);
  probe(require, 'uninstall', 'a');
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
    { ok: true, clients: 0, closeInspector: false });
  assert.strictEqual(probe(require, 'bogus', 'a').ok, false);
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
  probe(require, 'install', 'a');
  const state = globalThis[KEY];
  state.tick();
  assert.strictEqual(globalThis[KEY], state);
  state.clients.get('a').lastSeen = 0;
  state.tick();
  assert.strictEqual(globalThis[KEY], undefined);
  assert.deepStrictEqual(probe(require, 'uninstall', 'a'),
    { ok: true, clients: 0, closeInspector: false });
});

test('the last client to leave is told to close an inspector that any memtui opened', () => {
  const opened = { opened: true, keep: false };
  probe(require, 'install', 'opener', 1, opened);
  probe(require, 'install', 'joiner', 1, { opened: false, keep: false });
  assert.deepStrictEqual(probe(require, 'uninstall', 'opener'),
    { ok: true, clients: 1, closeInspector: false });
  assert.deepStrictEqual(probe(require, 'uninstall', 'joiner'),
    { ok: true, clients: 0, closeInspector: true });
  probe(require, 'install', 'opener', 1, opened);
  probe(require, 'install', 'keeper', 1, { opened: false, keep: true });
  probe(require, 'uninstall', 'keeper');
  assert.strictEqual(probe(require, 'uninstall', 'opener').closeInspector, false);
  probe(require, 'install', 'plain', 1);
  assert.strictEqual(probe(require, 'uninstall', 'plain').closeInspector, false);
});

test('a probe whose clients all went silent closes an inspector memtui opened', () => {
  let closed = 0;
  const withInspector = (name) => (name === 'inspector' ? { close() { closed += 1; } } : require(name));
  for (const opened of [false, true]) {
    probe(withInspector, 'install', 'a', 1, { opened, keep: false });
    const state = globalThis[KEY];
    state.clients.get('a').lastSeen = 0;
    state.tick();
    assert.strictEqual(globalThis[KEY], undefined);
    assert.strictEqual(closed, opened ? 1 : 0);
  }
});

test('a silent client is forgotten after three of its intervals, and at least a minute', () => {
  probe(require, 'install', 'slow', 100);
  probe(require, 'install', 'fast', 1);
  const state = globalThis[KEY];
  const now = Date.now();
  state.clients.get('slow').lastSeen = now - 120 * 1000;
  state.clients.get('fast').lastSeen = now - 59 * 1000;
  state.tick();
  assert.deepStrictEqual([...state.clients.keys()], ['slow', 'fast']);
  state.clients.get('fast').lastSeen = now - 61 * 1000;
  state.tick();
  assert.deepStrictEqual([...state.clients.keys()], ['slow']);
  state.clients.get('slow').lastSeen = now - 301 * 1000;
  state.tick();
  assert.strictEqual(globalThis[KEY], undefined);
});

test('an installed probe does not keep the process alive', () => {
  const { spawnSync } = require('node:child_process');
  const program = `(${source})(require, 'install', 'a'); console.log('installed');`;
  const child = spawnSync(process.execPath, ['-e', program], { encoding: 'utf8', timeout: 20000 });
  assert.strictEqual(child.status, 0, child.stderr);
  assert.strictEqual(child.stdout.trim(), 'installed');
});
