// The ways of accounting for GCs that issue 15 compares, as bench/gc_candidates.py installs
// them in a target through its inspector. One function expression, evaluated as
// `(<this file>)(require, ACTION, CANDIDATE)`: ACTION "install" starts CANDIDATE, "read" answers
// what it counted since the previous read, "uninstall" removes it. NodeTracing runs in the
// harness (CDP), so its CANDIDATE here is "none": only the read of the sample itself.
//   none          nothing: the cost of reading a sample alone
//   observer      a gc PerformanceObserver, always on (memtui's probe before issue 15)
//   duty          the observer on for 100 ms of every 1,000 ms, counts scaled up
//   sentinels     FinalizationRegistry targets: one young (re-armed at each death) and one
//                 promoted (held until two young deaths, then released)
//   weakref       a WeakRef polled at each read: at most one collection per read
//   gcprofiler    v8.GCProfiler stopped and restarted at each read
//   eld           two monitorEventLoopDelay histograms in lockstep (issue 12's loop delay)
(function gcCandidate(requireFn, action, candidate) {
  'use strict';
  const KEY = Symbol.for('memtui.gc-candidate');
  const KINDS = { 1: 'minor', 2: 'minor', 4: 'major', 8: 'incremental', 16: 'weakcb' };
  const PROFILER_KINDS = {
    Scavenge: 'minor', MinorMarkSweep: 'minor', MinorMarkCompact: 'minor', MarkSweepCompact: 'major',
    IncrementalMarking: 'incremental', ProcessWeakCallbacks: 'weakcb',
  };
  const zero = () => ({ minor: 0, major: 0, incremental: 0, weakcb: 0, pause_ms: 0 });

  function observer(s, kinds) {
    const { PerformanceObserver } = requireFn('perf_hooks');
    return new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const name = kinds[entry.detail ? entry.detail.kind : entry.kind];
        if (name) s.counts[name] += 1;
        s.counts.pause_ms += entry.duration;
      }
    });
  }

  const make = {
    none: () => ({ read: () => zero(), stop() {} }),
    observer() {
      const s = { counts: zero() };
      const o = observer(s, KINDS);
      o.observe({ entryTypes: ['gc'] });
      return { read: () => take(s), stop: () => o.disconnect() };
    },
    duty() {
      const s = { counts: zero(), onMs: 0, since: 0 };
      const o = observer(s, KINDS);
      let timer = null;
      const { performance } = requireFn('perf_hooks');
      function on() {
        o.observe({ entryTypes: ['gc'] });
        s.since = performance.now();
        timer = setTimeout(off, 100);
        timer.unref();
      }
      function off() {
        o.disconnect();
        s.onMs += performance.now() - s.since;
        timer = setTimeout(on, 900);
        timer.unref();
      }
      let last = performance.now();
      on();
      return {
        read() {
          const now = performance.now();
          const seen = take(s);
          const scale = s.onMs > 0 ? (now - last) / s.onMs : 0;
          s.onMs = 0;
          last = now;
          for (const k of Object.keys(seen)) seen[k] *= scale;
          return seen;
        },
        stop() { clearTimeout(timer); o.disconnect(); },
      };
    },
    sentinels() {
      const s = { counts: zero(), promoting: null, youngSince: 0, stopped: false };
      const registry = new FinalizationRegistry((kind) => {
        if (s.stopped) return;
        if (kind === 'young') {
          s.counts.minor += 1;
          registry.register({}, 'young');
          if (s.promoting && (s.youngSince += 1) >= 2) s.promoting = null;
        } else {
          s.counts.major += 1;
          armPromoted();
        }
      });
      function armPromoted() {
        const target = {};
        registry.register(target, 'promoted');
        s.promoting = target;
        s.youngSince = 0;
      }
      registry.register({}, 'young');
      armPromoted();
      return { read: () => take(s), stop() { s.stopped = true; } };
    },
    weakref() {
      const s = { counts: zero(), ref: new WeakRef({}) };
      return {
        read() {
          if (s.ref.deref() === undefined) {
            s.counts.minor += 1;
            s.ref = new WeakRef({});
          }
          return take(s);
        },
        stop() {},
      };
    },
    gcprofiler() {
      const v8 = requireFn('v8');
      let profiler = new v8.GCProfiler();
      profiler.start();
      return {
        read() {
          const data = profiler.stop();
          profiler = new v8.GCProfiler();
          profiler.start();
          const counts = zero();
          for (const gc of data.statistics) {
            const name = PROFILER_KINDS[gc.gcType];
            if (name) counts[name] += 1;
            counts.pause_ms += data.version >= 2 ? gc.cost : gc.cost / 1000;
          }
          return counts;
        },
        stop() { profiler.stop(); },
      };
    },
    eld() {
      const { monitorEventLoopDelay } = requireFn('perf_hooks');
      const reset = monitorEventLoopDelay({ resolution: 10 });
      const witness = monitorEventLoopDelay({ resolution: 10 });
      witness.enable();
      reset.enable();
      const sum = (h) => (h.count ? h.mean * h.count : 0);
      let seen = { count: 0, sum: 0 };
      return {
        read() {
          const now = { count: witness.count, sum: sum(witness) };
          const lost = now.sum - seen.sum - sum(reset);
          const counts = zero();
          counts.eld_max_ms = Math.max(reset.count ? reset.max : 0, lost) / 1e6;
          counts.eld_p99_ms = reset.count ? reset.percentile(99) / 1e6 : null;
          seen = now;
          reset.reset();
          return counts;
        },
        stop() { reset.disable(); witness.disable(); },
      };
    },
  };

  function take(s) {
    const counts = s.counts;
    s.counts = zero();
    return counts;
  }

  try {
    const installed = globalThis[KEY];
    if (action === 'install') {
      if (installed) installed.stop();
      globalThis[KEY] = make[candidate]();
      return { ok: true };
    }
    if (!installed) return { ok: false, error: 'not installed' };
    if (action === 'read') {
      const mem = process.memoryUsage();
      return { ok: true, counts: installed.read(), heap_used: mem.heapUsed };
    }
    if (action === 'uninstall') {
      installed.stop();
      delete globalThis[KEY];
      return { ok: true };
    }
    return { ok: false, error: 'unknown action ' + String(action) };
  } catch (err) {
    return { ok: false, error: String((err && err.message) || err) };
  }
})
