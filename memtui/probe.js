// memtui's probe: installed in the target by Runtime.evaluate, removed on detach.
// The file is one function expression: memtui evaluates
// `(<this file>)(require, ACTION, CLIENT, INTERVAL_S, INSPECTOR)`. ACTION "install" registers
// CLIENT, which samples every INTERVAL_S seconds, and "uninstall" unregisters it; GCs are
// counted while at least one client is registered. A client silent for three of its
// intervals (and at least a minute) is taken as gone: a memtui that was killed, or lost its
// connection, cannot uninstall. Each sample is the short call
// `globalThis[Symbol.for('memtui.probe')].sample(CLIENT)`, which answers {ok, reading | error}.
// Nothing here may throw into the target: every entry point and callback catches everything.
//
// INSPECTOR ({opened, keep}) says whether the installing memtui opened the target's inspector
// (SIGUSR1) and whether it was asked to keep it open. The target remembers it, so that the
// last memtui to leave closes an inspector some memtui opened, whichever memtui that was:
// "uninstall" then answers closeInspector: true. When the probe removes itself because its
// clients went silent, it closes such an inspector itself.
//
// GCs are counted with a gc PerformanceObserver. v8.GCProfiler costs less per collection, but
// it can only be read by stopping it, and a stopped profiler keeps writing every collection's
// statistics until its wrapper is garbage-collected, which for one that lived a sampling
// interval takes a full GC: a target with rare full GCs would grow without bound.
(function memtuiProbe(requireFn, action, client, intervalS, inspector) {
  'use strict';
  const KEY = Symbol.for('memtui.probe');
  const VERSION = 3;
  const MIN_STALE_MS = 60 * 1000;
  const CHECK_STALE_MS = 5000;
  const GC_KINDS = { 1: 'minor', 4: 'major', 8: 'incremental', 16: 'weakcb' };

  function createProbe() {
    const v8 = requireFn('v8');
    const { PerformanceObserver, performance } = requireFn('perf_hooks');
    const state = {
      version: VERSION,
      counts: { minor: 0, major: 0, incremental: 0, weakcb: 0 },
      pauseMs: 0,
      clients: new Map(),
      inspector: { opened: false, keep: false },
      observer: null,
      timer: null,
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

    // Forgets clients that are gone; when none is left, removes the probe and closes an
    // inspector memtui opened, as the last of them would have on its way out.
    state.tick = function tick() {
      try {
        forgetStale(state, Date.now());
        if (state.clients.size === 0) {
          remove(state);
          if (inspectorToClose(state)) requireFn('inspector').close();
        }
      } catch (_) { /* never throw in the target */ }
    };
    state.timer = setInterval(state.tick, CHECK_STALE_MS);
    state.timer.unref();

    state.shutdown = function shutdown() {
      clearInterval(state.timer);
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

  function forgetStale(state, now) {
    for (const [id, info] of state.clients) {
      if (now - info.lastSeen > info.staleMs) state.clients.delete(id);
    }
  }

  function inspectorToClose(state) {
    return state.inspector.opened && !state.inspector.keep;
  }

  function register(state, id, seconds, flags) {
    const now = Date.now();
    forgetStale(state, now);
    if (flags && flags.opened) state.inspector.opened = true;
    if (flags && flags.keep) state.inspector.keep = true;
    if (state.clients.has(id)) return false;
    state.clients.set(id, {
      baseCounts: Object.assign({}, state.counts),
      basePauseMs: state.pauseMs,
      elu: state.loopUtilization(),
      lastSeen: now,
      staleMs: Math.max(MIN_STALE_MS, 3 * 1000 * (Number(seconds) || 0)),
    });
    return true;
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
      const added = register(state, client, intervalS, inspector);
      return { ok: true, clients: state.clients.size, added };
    }
    if (action === 'uninstall') {
      if (!state) return { ok: true, clients: 0, closeInspector: false };
      state.clients.delete(client);
      const last = state.clients.size === 0;
      if (last) remove(state);
      const closeInspector = last && inspectorToClose(state);
      return { ok: true, clients: state.clients.size, closeInspector };
    }
    return { ok: false, error: 'unknown action ' + String(action) };
  } catch (err) {
    return { ok: false, error: String((err && err.message) || err) };
  }
})
