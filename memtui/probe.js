// memtui's probe: installed in the target by Runtime.evaluate, removed on detach.
// The file is one function expression: memtui evaluates
// `(<this file>)(require, ACTION, CLIENT, INTERVAL_S, INSPECTOR)`. ACTION "install" registers
// CLIENT, which samples every INTERVAL_S seconds; "uninstall" unregisters it; "release"
// registers nothing and only records INSPECTOR (a memtui whose attach failed after it opened
// the inspector); "move" has the inspector a client opened on a fixed port moved to an
// ephemeral one once no connection is left. GCs are counted while at least one client is
// registered. Each sample is
// the short call `globalThis[Symbol.for('memtui.probe')].sample(CLIENT)`, which answers
// {ok, reading | error}. Nothing here may throw into the target: every entry point and
// callback catches everything.
//
// A client is gone when it has been silent for three of its intervals (and at least a
// minute: a memtui that was stopped), or when no TCP connection to the inspector is left (a
// memtui that was killed, or that left while the target was blocked and its uninstall only
// ran later).
//
// INSPECTOR ({opened, keep}) says whether the calling memtui opened the target's inspector
// (SIGUSR1) and whether it was asked to keep it open. The target remembers it in the keeper,
// which outlives the probe, so that an inspector some memtui opened is closed once no memtui
// is registered, whichever memtui opened it, unless one was asked to keep it.
//
// The keeper closes the inspector only when no TCP connection to it is open
// (/proc/self/net/tcp{,6}): Node's inspector crashes the process (SIGSEGV, Node 20-26) when a
// client's websocket frame crosses the close frames inspector.close() sends its clients, and
// its close() pauses the process until every client has answered. So a leaving memtui drops
// its connection and the keeper closes the inspector after it, from a timer: the close never
// depends on memtui being alive, and happens as soon as the target runs JavaScript again.
//
// GCs are counted with a gc PerformanceObserver. v8.GCProfiler costs less per collection, but
// it can only be read by stopping it, and a stopped profiler keeps writing every collection's
// statistics until its wrapper is garbage-collected, which for one that lived a sampling
// interval takes a full GC: a target with rare full GCs would grow without bound.
(function memtuiProbe(requireFn, action, client, intervalS, inspector) {
  'use strict';
  const KEY = Symbol.for('memtui.probe');
  const KEEPER_KEY = Symbol.for('memtui.keeper');
  const VERSION = 4;
  const MIN_STALE_MS = 60 * 1000;
  const CHECK_MS = 1000;
  const CLOSE_CHECK_MS = 100;
  const QUIET_MS_WITHOUT_PROC = 1000;
  // TCP states of a connection the inspector still serves: established, SYN received, and
  // close wait (the client left; Node has not closed its end yet).
  const SERVED_STATES = '01|03|08';
  const READS = 3;
  const MOVE_WAIT_MS = 5000;
  const GC_KINDS = { 1: 'minor', 4: 'major', 8: 'incremental', 16: 'weakcb' };

  function createProbe() {
    const v8 = requireFn('v8');
    const { PerformanceObserver, performance } = requireFn('perf_hooks');
    const state = {
      version: VERSION,
      counts: { minor: 0, major: 0, incremental: 0, weakcb: 0 },
      pauseMs: 0,
      clients: new Map(),
      observer: null,
    };
    state.observer = new PerformanceObserver((list) => {
      try {
        for (const entry of list.getEntries()) {
          const kind = entry.detail ? entry.detail.kind : entry.kind;
          const name = GC_KINDS[kind];
          if (name) state.counts[name] += 1;
          state.pauseMs += entry.duration;
        }
      } catch (_) { /* never throw in the target */ }
    });
    state.observer.observe({ entryTypes: ['gc'] });

    state.shutdown = function shutdown() {
      state.observer.disconnect();
    };

    state.reading = function reading(id) {
      const self = state.clients.get(id);
      if (!self) return null;
      self.lastSeen = Date.now();
      const mem = process.memoryUsage();
      const elu = performance.eventLoopUtilization(self.elu);
      self.elu = performance.eventLoopUtilization();
      const gc = {};
      for (const name of Object.keys(state.counts)) {
        gc[name] = state.counts[name] - self.baseCounts[name];
      }
      return {
        t: Date.now() / 1000,
        pid: process.pid,
        rss: mem.rss,
        heap_total: mem.heapTotal,
        heap_used: mem.heapUsed,
        external: mem.external,
        array_buffers: mem.arrayBuffers || 0,
        heap_limit: v8.getHeapStatistics().heap_size_limit,
        heap_spaces: v8.getHeapSpaceStatistics().map((s) => [
          s.space_name, s.space_size, s.space_used_size, s.space_available_size,
        ]),
        gc,
        gc_pause_ms: state.pauseMs - self.basePauseMs,
        elu: elu.utilization,
        elu_span_ms: elu.idle + elu.active,
      };
    };
    state.loopUtilization = () => performance.eventLoopUtilization();
    state.sample = function sample(id) {
      try {
        const reading = state.reading(id);
        return reading ? { ok: true, reading } : { ok: false, error: 'not installed' };
      } catch (err) {
        return { ok: false, error: String((err && err.message) || err) };
      }
    };
    return state;
  }

  // Forgets the clients that are gone: those silent for their stale time, and all of them
  // when no connection to the inspector is left. The connections are counted only when a
  // client has been silent for two of its intervals, as reading the TCP tables costs more
  // than a sample.
  function forgetGone(state, keeper, now) {
    let quiet = false;
    for (const [id, info] of state.clients) {
      const silent = now - info.lastSeen;
      if (silent > info.staleMs) state.clients.delete(id);
      else if (silent > info.quietMs) quiet = true;
    }
    if (quiet && inspectorConnections(keeper) === 0) state.clients.clear();
  }

  function register(state, id, seconds) {
    const now = Date.now();
    if (state.clients.has(id)) return false;
    const intervalMs = 1000 * (Number(seconds) || 0);
    state.clients.set(id, {
      baseCounts: Object.assign({}, state.counts),
      basePauseMs: state.pauseMs,
      elu: state.loopUtilization(),
      lastSeen: now,
      quietMs: Math.max(3000, 2 * intervalMs),
      staleMs: Math.max(MIN_STALE_MS, 3 * intervalMs),
    });
    return true;
  }

  function hidden(key, value) {
    Object.defineProperty(globalThis, key, {
      value, configurable: true, enumerable: false, writable: true,
    });
    return value;
  }

  // The keeper outlives the probe: it remembers whether a memtui opened the inspector (at
  // which URL, so that one the program reopened itself is left alone) and whether one asked
  // to keep it, checks the clients on a timer, and closes the inspector when its turn comes.
  function keeperOf() {
    const found = globalThis[KEEPER_KEY];
    if (found) return found;
    const keeper = hidden(KEEPER_KEY, {
      opened: false, keep: false, url: null, timer: null, lastCall: Date.now(),
    });
    keeper.check = () => check(keeper);
    return keeper;
  }

  // A memtui that opened the inspector says so each time it installs; the URL tells that
  // instance from one the program reopens itself later.
  function mark(keeper, flags) {
    keeper.lastCall = Date.now();
    if (flags && flags.opened) {
      keeper.opened = true;
      keeper.url = requireFn('inspector').url() || null;
    }
    if (flags && flags.keep) keeper.keep = true;
  }

  function schedule(keeper, ms) {
    if (keeper.timer) clearTimeout(keeper.timer);
    keeper.timer = setTimeout(keeper.check, ms);
    keeper.timer.unref();
  }

  // Connections to the inspector's port, from this network namespace's TCP tables; null
  // when they cannot be read or the inspector is closed. The kernel serves a table a page
  // per read and resumes each read at a position, so a table that changes meanwhile (other
  // connections opening and closing) can skip rows: each table is read READS times and
  // the most rows seen counts.
  function inspectorConnections(keeper) {
    const url = requireFn('inspector').url();
    if (!url) return null;
    const port = new URL(url).port;
    const hex = Number(port).toString(16).toUpperCase().padStart(4, '0');
    const row = new RegExp(`^\\s*\\d+: [0-9A-F]+:${hex} [0-9A-F]+:[0-9A-F]+ (${SERVED_STATES}) `,
      'gm');
    const fs = requireFn('fs');
    let count = null;
    for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
      let most = null;
      for (let read = 0; read < READS; read++) {
        let text;
        try { text = fs.readFileSync(table, 'latin1'); } catch (_) { break; }
        most = Math.max(most || 0, (text.match(row) || []).length);
      }
      if (most !== null) count = (count || 0) + most;
    }
    keeper.connections = count;
    return count;
  }

  // Runs on the keeper's timer: forgets gone clients and removes a probe with none left;
  // then, with no client registered, closes an inspector a memtui opened once no connection
  // to it is left (or, when they cannot be counted, after a quiet second), and retires.
  function check(keeper) {
    try {
      keeper.timer = null;
      const now = Date.now();
      if (keeper.moveTo) {
        if (inspectorConnections(keeper) === 0) move(keeper);
        else if (now - keeper.moveAsked > MOVE_WAIT_MS) keeper.moveTo = null;
        if (keeper.moveTo) return schedule(keeper, CLOSE_CHECK_MS);
      }
      const state = globalThis[KEY];
      if (state) {
        forgetGone(state, keeper, now);
        if (state.clients.size > 0) return schedule(keeper, CHECK_MS);
        remove(state);
      }
      const inspectorModule = requireFn('inspector');
      const url = inspectorModule.url();
      if (!keeper.opened || keeper.keep || !url || url !== keeper.url) return retire(keeper);
      const connections = inspectorConnections(keeper);
      const quiet = connections === null && now - keeper.lastCall >= QUIET_MS_WITHOUT_PROC;
      if (connections === 0 || quiet) {
        retire(keeper);
        inspectorModule.close();
        if (keeper.restorePort) process.debugPort = keeper.restorePort;
        return undefined;
      }
      return schedule(keeper, CLOSE_CHECK_MS);
    } catch (_) {
      return retire(keeper);
    }
  }

  // Moves the inspector a memtui opened on the port every process's SIGUSR1 uses (9229) to an
  // ephemeral port, freeing that port for the next process; the port SIGUSR1 uses
  // (process.debugPort, which open() changes) is restored when the keeper closes it.
  function move(keeper) {
    const inspectorModule = requireFn('inspector');
    const host = keeper.moveTo;
    const port = process.debugPort;
    keeper.moveTo = null;
    inspectorModule.close();
    try {
      inspectorModule.open(0, host);
    } catch (_) {
      process.debugPort = port;
      return;
    }
    keeper.restorePort = port;
    keeper.url = inspectorModule.url() || null;
  }

  function retire(keeper) {
    if (keeper.timer) clearTimeout(keeper.timer);
    keeper.timer = null;
    if (globalThis[KEEPER_KEY] === keeper) delete globalThis[KEEPER_KEY];
  }

  // Also removes a probe left by an older memtui (version 1 had no shutdown()).
  function remove(state) {
    try {
      if (typeof state.shutdown === 'function') state.shutdown();
      else if (state.observer) state.observer.disconnect();
    } catch (_) { /* already gone */ }
    if (globalThis[KEY] === state) delete globalThis[KEY];
  }

  try {
    let state = globalThis[KEY];
    const keeper = keeperOf();
    if (state && state.version !== VERSION) {
      if (state.inspector) mark(keeper, state.inspector);
      remove(state);
      state = undefined;
    }
    mark(keeper, inspector);
    if (action === 'install') {
      if (!state) state = hidden(KEY, createProbe());
      const added = register(state, client, intervalS);
      schedule(keeper, CHECK_MS);
      return { ok: true, clients: state.clients.size, added, opened: keeper.opened };
    }
    if (action === 'move') {
      const movable = keeper.opened && !keeper.keep && state && state.clients.has(client) &&
        requireFn('inspector').url() === keeper.url;
      if (movable) {
        keeper.moveTo = (inspector && inspector.host) || '127.0.0.1';
        keeper.moveAsked = Date.now();
        schedule(keeper, CLOSE_CHECK_MS);
      }
      return { ok: true, moving: Boolean(movable) };
    }
    if (action === 'uninstall' || action === 'release') {
      if (state) state.clients.delete(client);
      const clients = state ? state.clients.size : 0;
      if (state && clients === 0) remove(state);
      const closing = clients === 0 && keeper.opened && !keeper.keep;
      schedule(keeper, closing ? CLOSE_CHECK_MS : CHECK_MS);
      return { ok: true, clients, closing };
    }
    return { ok: false, error: 'unknown action ' + String(action) };
  } catch (err) {
    return { ok: false, error: String((err && err.message) || err) };
  }
})
