// memtui's probe: installed in the target by Runtime.evaluate, removed on detach.
// The file is one function expression: memtui evaluates `(<this file>)(require, ACTION, CLIENT)`.
// ACTION "install" registers CLIENT and "uninstall" unregisters it; the GC observer runs while
// at least one client is registered. Each sample is the short call
// `globalThis[Symbol.for('memtui.probe')].sample(CLIENT)`, which answers {ok, reading | error}.
// Nothing here may throw into the target: every entry point and callback catches everything.
(function memtuiProbe(requireFn, action, client) {
  'use strict';
  const KEY = Symbol.for('memtui.probe');
  const VERSION = 1;
  const STALE_MS = 10 * 60 * 1000;
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

  function register(state, id) {
    const now = Date.now();
    for (const [other, info] of state.clients) {
      if (now - info.lastSeen > STALE_MS) state.clients.delete(other);
    }
    if (!state.clients.has(id)) {
      state.clients.set(id, {
        baseCounts: Object.assign({}, state.counts),
        basePauseMs: state.pauseMs,
        elu: state.loopUtilization(),
        lastSeen: now,
      });
    }
  }

  function remove(state) {
    try { state.observer.disconnect(); } catch (_) { /* already gone */ }
    if (globalThis[KEY] === state) delete globalThis[KEY];
  }

  try {
    let state = globalThis[KEY];
    if (action === 'install') {
      if (state && state.version !== VERSION) {
        remove(state);
        state = undefined;
      }
      if (!state) {
        state = createProbe();
        Object.defineProperty(globalThis, KEY, {
          value: state, configurable: true, enumerable: false, writable: true,
        });
      }
      register(state, client);
      return { ok: true, clients: state.clients.size };
    }
    if (action === 'uninstall') {
      if (!state) return { ok: true, clients: 0 };
      state.clients.delete(client);
      if (state.clients.size === 0) remove(state);
      return { ok: true, clients: state.clients.size };
    }
    return { ok: false, error: 'unknown action ' + String(action) };
  } catch (err) {
    return { ok: false, error: String((err && err.message) || err) };
  }
})
