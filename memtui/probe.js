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
// INSPECTOR ({opened, keep, port}) says whether the calling memtui opened the target's inspector
// (SIGUSR1) and whether it was asked to keep it open. The target remembers it in the keeper,
// which outlives the probe, so that an inspector some memtui opened is closed once no memtui
// is registered, whichever memtui opened it, unless one was asked to keep it.
// In a worker thread, which has no inspector URL of its own (memtui reaches it through the
// main thread's session), `port` names the main inspector's port, whose connections tell
// whether a memtui is still there.
//
// The keeper closes the inspector only when no TCP connection to it is open
// (/proc/self/net/tcp{,6}): Node's inspector crashes the process (SIGSEGV, Node 20-26) when a
// client's websocket frame crosses the close frames inspector.close() sends its clients, and
// its close() pauses the process until every client has answered. So a leaving memtui drops
// its connection and the keeper closes the inspector after it, from a timer: the close never
// depends on memtui being alive, and happens as soon as the target runs JavaScript again.
//
// What a reading measures (see createGcAccounting and createLoopDelay):
// - GC counts by kind and pause time, from a gc PerformanceObserver while it is on. Node builds
//   an entry in JavaScript for every collection (75-230 µs each), so the observer is switched on
//   at the start of each second and off once it has seen OBSERVED_PER_S collections in it. While
//   it is off, major GCs are counted by a FinalizationRegistry sentinel, an old object that only
//   a major GC frees, and the other kinds and the pause time are estimated from what the recent
//   windows observed per ms of the main thread's CPU time (collections come with allocation,
//   which only running JavaScript does; a wall-clock rate is off by the share of the window the
//   program was idle or descheduled): a reading says, per field, whether its change since the
//   client's previous reading includes an estimate.
// - The heap used right after each major GC, read when the observer's entry or the sentinel's
//   cleanup runs (within one event-loop turn of the collection), without the young generation,
//   which a major GC leaves empty and later allocations fill.
// - Event-loop delay over the client's interval, from monitorEventLoopDelay histograms.
// v8.GCProfiler is not used: on every supported major, a stopped profiler keeps recording every
// collection until its wrapper is garbage-collected, which for one that lived a sampling
// interval takes a full GC.
(function memtuiProbe(requireFn, action, client, intervalS, inspector) {
  'use strict';
  const KEY = Symbol.for('memtui.probe');
  const KEEPER_KEY = Symbol.for('memtui.keeper');
  const VERSION = 6;
  const MIN_STALE_MS = 60 * 1000;
  const CHECK_MS = 1000;
  const CLOSE_CHECK_MS = 100;
  const QUIET_MS_WITHOUT_PROC = 1000;
  // TCP states of a connection the inspector still serves: established, SYN received, and
  // close wait (the client left; Node has not closed its end yet).
  const SERVED_STATES = '01|03|08';
  const READS = 3;
  const MOVE_WAIT_MS = 5000;
  const GC_KINDS = { 1: 'minor', 2: 'minor', 4: 'major', 8: 'incremental', 16: 'weakcb' };
  const OBSERVED_PER_S = 15;
  const PERIOD_MS = 1000;
  const RATE_WINDOWS = 2;
  const MINORS_TO_PROMOTE = 2;
  const MAX_BASELINES = 64;
  const LOOP_DELAY_RESOLUTION_MS = 10;

  function createProbe() {
    const v8 = requireFn('v8');
    const perfHooks = requireFn('perf_hooks');
    const { performance } = perfHooks;
    const state = {
      version: VERSION,
      clients: new Map(),
      gc: createGcAccounting(perfHooks, v8),
    };

    state.shutdown = function shutdown() {
      for (const id of [...state.clients.keys()]) forget(state, id);
      state.gc.stop();
    };

    state.reading = function reading(id) {
      const self = state.clients.get(id);
      if (!self) return null;
      self.lastSeen = Date.now();
      const mem = process.memoryUsage();
      const elu = performance.eventLoopUtilization(self.elu);
      self.elu = performance.eventLoopUtilization();
      const gc = state.gc.read(self.gc);
      const delay = self.loopDelay.read();
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
        heap_after_gc: gc.heapAfterGc,
        gc: gc.counts,
        gc_estimated: gc.estimated,
        gc_pause_ms: gc.pauseMs,
        gc_pause_estimated: gc.pauseEstimated,
        elu: elu.utilization,
        elu_span_ms: elu.idle + elu.active,
        eld_p99_ms: delay.p99Ms,
        eld_max_ms: delay.maxMs,
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

  // GC counts by kind and pause time (cumulative, estimates included) and the post-GC heap
  // baselines, shared by all clients; each client reads them from its own starting point.
  function createGcAccounting(perfHooks, v8) {
    const { PerformanceObserver, performance } = perfHooks;
    const acc = {
      counts: { minor: 0, major: 0, incremental: 0, weakcb: 0 },
      pauseMs: 0,
      // How many estimates each field has received: a client whose copy differs got one.
      estimates: { minor: 0, major: 0, incremental: 0, weakcb: 0, pause: 0 },
      baselines: [],
      baselineSeq: 0,
    };
    // Observed majors and their pause, observed starts of incremental marking, and whether one
    // was seen that no major has finished yet.
    const majors = { count: 0, pauseMs: 0, markings: 0, marking: false };
    const recent = [];
    // The main thread's CPU time in ms (the process's on Node 20, which has no thread clock).
    const threadUsage = typeof process.threadCpuUsage === 'function'
      ? () => process.threadCpuUsage() : () => process.cpuUsage();
    const cpuMs = () => {
      const usage = threadUsage();
      return (usage.user + usage.system) / 1000;
    };
    let current = openWindow(performance.now());
    let observing = false;
    let connectedAt = 0;
    let lastMajorAt = -Infinity;
    let off = null;
    let timer = null;
    let stopped = false;

    const observer = new PerformanceObserver((list) => {
      try {
        observedAll(list.getEntries());
        if (!observing) return;
        current.clock.push([performance.now(), cpuMs()]);
        if (sentinel.armed && observedInWindow() >= OBSERVED_PER_S) pause();
      } catch (_) { /* never throw in the target */ }
    });
    const registry = new FinalizationRegistry((gen) => {
      try {
        sentinelCleared(gen);
      } catch (_) { /* never throw in the target */ }
    });
    const sentinel = { gen: 0, armed: null, next: null };

    // A window's clock: [wall ms, CPU ms] at its start and at each delivery of entries.
    function openWindow(now) {
      const cpu = cpuMs();
      return {
        clock: [[now, cpu]],
        firstStart: null,
        lastEnd: now,
        counts: { minor: 0, major: 0, incremental: 0, weakcb: 0 },
        pauseMs: { minor: 0, major: 0, incremental: 0, weakcb: 0 },
      };
    }

    // Entries delivered together: collections that came before JavaScript ran again, so one
    // baseline point, for the last major GC among them, is all that can be read.
    function observedAll(entries) {
      let lastMajor = null;
      for (const entry of entries) {
        if (observed(entry) === 'major') lastMajor = entry;
      }
      if (lastMajor) baseline(performance.timeOrigin + lastMajor.startTime + lastMajor.duration);
    }

    function observed(entry) {
      if (!observing || entry.startTime < connectedAt) return null;
      const detail = entry.detail;
      const kind = GC_KINDS[detail ? detail.kind : entry.kind];
      acc.pauseMs += entry.duration;
      if (!kind) return null;
      acc.counts[kind] += 1;
      current.counts[kind] += 1;
      current.pauseMs[kind] += entry.duration;
      if (current.firstStart === null) current.firstStart = entry.startTime;
      current.lastEnd = Math.max(current.lastEnd, entry.startTime + entry.duration);
      const next = sentinel.next;
      if (kind === 'incremental') {
        majors.markings += 1;
        majors.marking = true;
      } else if (kind === 'major') {
        majors.count += 1;
        majors.pauseMs += entry.duration;
        majors.marking = false;
        lastMajorAt = entry.startTime;
        if (next && entry.startTime > next.since) promote();
      } else if (kind === 'minor' && next && entry.startTime > next.since) {
        next.minors += 1;
        if (!sentinel.armed && next.minors >= MINORS_TO_PROMOTE) promote();
      }
      return kind;
    }

    // The sentinel: `armed` is old and only weakly held, so that a major GC, and only a major
    // GC, frees it; `next` is held until it is old too (it survived a major GC, or two minor
    // ones), then takes over. On Node 20-24 minor GCs free no FinalizationRegistry target; from
    // Node 26 they free young ones, hence the promotion. Whichever of the sentinel's cleanup
    // and the observer's entry comes first moves the pipeline on; the other then finds it moved.
    function hold() {
      sentinel.gen += 1;
      const target = {};
      const token = {};
      registry.register(target, sentinel.gen, token);
      sentinel.next = { gen: sentinel.gen, target, token, since: performance.now(), minors: 0 };
    }

    function promote() {
      const next = sentinel.next;
      if (sentinel.armed) registry.unregister(sentinel.armed.token);
      sentinel.armed = { gen: next.gen, token: next.token, since: performance.now() };
      next.target = null;
      hold();
    }

    function sentinelCleared(gen) {
      const armed = sentinel.armed;
      if (stopped || !armed || gen !== armed.gen) return;
      promote();
      if (!observing) {
        unobservedMajor();
      } else if (connectedAt > armed.since) {
        // The collection may have come before the observer was connected: it was observed if
        // its entry, delivered in this turn's check phase at the latest, is one.
        setImmediate(() => {
          try {
            observedAll(observer.takeRecords());
            if (!stopped && lastMajorAt <= armed.since) unobservedMajor();
          } catch (_) { /* never throw in the target */ }
        }).unref();
      }
    }

    // A major GC the observer did not see: counted (the sentinel misses a second one that comes
    // before its cleanup runs), its pause the mean of the observed ones, and, unless the start of
    // the incremental marking that led to it was observed, that marking as often as observed
    // majors had one (taken as always until some are observed).
    function unobservedMajor() {
      acc.counts.major += 1;
      acc.estimates.major += 1;
      if (majors.count > 0) acc.pauseMs += majors.pauseMs / majors.count;
      acc.estimates.pause += 1;
      if (majors.marking) {
        majors.marking = false;
      } else {
        acc.counts.incremental += Math.min(1, (majors.markings + 1) / (majors.count + 1));
        acc.estimates.incremental += 1;
      }
      baseline(Date.now());
    }

    function baseline(epochMs) {
      let used = 0;
      for (const space of v8.getHeapSpaceStatistics()) {
        if (!space.space_name.startsWith('new_')) used += space.space_used_size;
      }
      acc.baselineSeq += 1;
      acc.baselines.push({ seq: acc.baselineSeq, t: epochMs / 1000, heap_used: used });
      if (acc.baselines.length > MAX_BASELINES) acc.baselines.shift();
    }

    // Adds the estimates for the CPU time the main thread has spent since the observer went off.
    function settle() {
      if (!off) return;
      const cpu = cpuMs();
      const ms = cpu - off.cpuSince;
      for (const kind of ['minor', 'weakcb']) {
        acc.counts[kind] += off.perCpuMs[kind] * ms;
        acc.estimates[kind] += 1;
      }
      acc.pauseMs += off.pausePerCpuMs * ms;
      acc.estimates.pause += 1;
      off.cpuSince = cpu;
    }

    function observedInWindow() {
      const c = current.counts;
      return c.minor + c.major + c.incremental + c.weakcb;
    }

    // Keeps the last RATE_WINDOWS windows: some 30 collections when the observer goes off in
    // each period, a rate that follows a change within two periods.
    function closeWindow(now, cpuEnd) {
      if (now > current.clock[current.clock.length - 1][0]) current.clock.push([now, cpuEnd]);
      current.spanCpuMs = current.firstStart === null ? 0
        : cpuAt(current.clock, current.lastEnd) - cpuAt(current.clock, current.firstStart);
      recent.push(current);
      if (recent.length > RATE_WINDOWS) recent.shift();
      current = openWindow(now);
    }

    // Collections per ms of CPU time by kind in the recent windows, and the pause per ms of the
    // kinds whose count is estimated while the observer is off (minor and weak callbacks;
    // majors are counted by the sentinel, incremental markings by the majors). A window's span
    // runs from the start of its first collection to the end of its last, leaving out the idle
    // time before the first: its n collections are n - 1 intervals.
    function observedRates() {
      const perCpuMs = { minor: 0, major: 0, incremental: 0, weakcb: 0 };
      let ms = 0;
      let pauseMs = 0;
      for (const w of recent) {
        const n = w.counts.minor + w.counts.major + w.counts.incremental + w.counts.weakcb;
        if (n < 2 || w.spanCpuMs <= 0) continue;
        const share = (n - 1) / n;
        ms += w.spanCpuMs;
        for (const kind of Object.keys(perCpuMs)) perCpuMs[kind] += share * w.counts[kind];
        pauseMs += share * (w.pauseMs.minor + w.pauseMs.incremental + w.pauseMs.weakcb);
      }
      for (const kind of Object.keys(perCpuMs)) perCpuMs[kind] = ms > 0 ? perCpuMs[kind] / ms : 0;
      return { perCpuMs, pausePerCpuMs: ms > 0 ? pauseMs / ms : 0 };
    }

    function connect(now) {
      observer.observe({ entryTypes: ['gc'] });
      observing = true;
      connectedAt = now;
    }

    function schedule(fn, ms) {
      timer = setTimeout(fn, ms);
      timer.unref();
    }

    // The start of a period: the observer on, until it has seen its budget of collections (once
    // the sentinel is armed) or the period ends.
    function startPeriod() {
      try {
        const now = performance.now();
        if (observing) {
          closeWindow(now, cpuMs());
        } else {
          settle();
          off = null;
          current = openWindow(now);
          connect(now);
        }
        schedule(startPeriod, PERIOD_MS);
      } catch (_) { /* never throw in the target */ }
    }

    // The main thread's CPU time at wall time t, interpolated in a window's clock.
    function cpuAt(clock, t) {
      let i = 0;
      while (i < clock.length - 1 && clock[i + 1][0] < t) i += 1;
      if (i === clock.length - 1) return clock[i][1];
      const [[t0, cpu0], [t1, cpu1]] = [clock[i], clock[i + 1]];
      return t1 > t0 ? cpu0 + ((cpu1 - cpu0) * Math.max(0, t - t0)) / (t1 - t0) : cpu1;
    }

    // The observer off until the next period starts. Collections after the last one observed
    // are on their way (Node delivers an entry one or two event-loop turns after its
    // collection) and lost once the observer is off, so the window ends at the last observed
    // one and the estimates start there.
    function pause() {
      const now = performance.now();
      observedAll(observer.takeRecords());
      observer.disconnect();
      observing = false;
      current.clock.push([now, cpuMs()]);
      const end = cpuAt(current.clock, current.lastEnd);
      closeWindow(current.lastEnd, end);
      const { perCpuMs, pausePerCpuMs } = observedRates();
      off = { cpuSince: end, perCpuMs, pausePerCpuMs };
    }

    hold();
    connect(performance.now());
    schedule(startPeriod, PERIOD_MS);

    return {
      // A client's starting point, for `read`.
      start() {
        settle();
        return {
          counts: Object.assign({}, acc.counts),
          pauseMs: acc.pauseMs,
          estimates: Object.assign({}, acc.estimates),
          baselineSeq: acc.baselineSeq,
        };
      },
      // Counts (rounded) and pause time since the client's start; which of them changed by an
      // estimate since its previous read; the baselines taken meanwhile (the latest ones).
      read(client) {
        settle();
        const counts = {};
        const estimated = {};
        for (const kind of Object.keys(acc.counts)) {
          counts[kind] = Math.round(acc.counts[kind]) - Math.round(client.counts[kind]);
          estimated[kind] = acc.estimates[kind] !== client.estimates[kind];
        }
        const pauseEstimated = acc.estimates.pause !== client.estimates.pause;
        const heapAfterGc = acc.baselines.filter((b) => b.seq > client.baselineSeq)
          .map((b) => ({ t: b.t, heap_used: b.heap_used }));
        client.estimates = Object.assign({}, acc.estimates);
        client.baselineSeq = acc.baselineSeq;
        return { counts, estimated, pauseMs: acc.pauseMs - client.pauseMs, pauseEstimated,
                 heapAfterGc };
      },
      stop() {
        stopped = true;
        clearTimeout(timer);
        observer.disconnect();
        observing = false;
        for (const s of [sentinel.armed, sentinel.next]) if (s) registry.unregister(s.token);
        sentinel.armed = null;
        sentinel.next = null;
      },
      // For tests: whether the sentinel is armed, and the observer switched off and on.
      get armed() { return sentinel.armed !== null; },
      pause: () => { clearTimeout(timer); pause(); },
      resume: () => { clearTimeout(timer); startPeriod(); },
    };
  }

  // Event-loop delay since the previous read: how late a 10 ms timer ran, p99 and max, in ms
  // (null when no delay ended in the interval, as while the loop is blocked). `reset` is reset
  // at each read, which loses the delay running at that moment (the next tick only restarts its
  // clock), and a read is served by interrupt, often in the middle of a block. `witness` runs in
  // lockstep (started in the same turn: same timer expiry, fired in the same pass) and is never
  // reset, so the difference of their sums since the previous read is that lost delay.
  function createLoopDelay(perfHooks) {
    const witness = perfHooks.monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    const reset = perfHooks.monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    witness.enable();
    reset.enable();
    const sum = (h) => (h.count > 0 ? h.mean * h.count : 0);
    let seen = { count: 0, sum: 0 };
    const toMs = (ns) => Math.max(0, ns / 1e6 - LOOP_DELAY_RESOLUTION_MS);

    // The value of rank k (1-based, ascending) among the n values of `reset`.
    const rank = (k, n) => reset.percentile(Math.min(100, (100 * k) / n));

    // p99 (HdrHistogram's rule: the value at rank round(0.99 n)) of reset's n values and `extra`.
    function p99With(n, extra) {
      const k = Math.max(1, Math.floor(0.99 * (n + 1) + 0.5));
      if (n === 0) return extra;
      if (k === n + 1) return Math.max(extra, reset.max);
      const value = rank(k, n);
      if (extra >= value) return value;
      return k === 1 ? extra : Math.max(extra, rank(k - 1, n));
    }

    return {
      read() {
        const now = { count: witness.count, sum: sum(witness) };
        const n = reset.count;
        const lostCount = now.count - seen.count - n;
        const lost = now.sum - seen.sum - sum(reset);
        seen = now;
        let maxNs = n > 0 ? reset.max : 0;
        let p99Ns = n > 0 ? reset.percentile(99) : 0;
        if (lostCount > 0 && lost > 0) {
          maxNs = Math.max(maxNs, lost);
          // A lost delay below the p99 moves it by at most one rank: left as it is.
          if (lost > p99Ns) p99Ns = p99With(n, lost);
        }
        reset.reset();
        if (n + Math.max(0, lostCount) === 0) return { p99Ms: null, maxMs: null };
        return { p99Ms: toMs(p99Ns), maxMs: toMs(maxNs) };
      },
      stop() {
        reset.disable();
        witness.disable();
      },
    };
  }

  // Forgets the clients that are gone: those silent for their stale time, and all of them
  // when no connection to the inspector is left. The connections are counted only when a
  // client has been silent for two of its intervals, as reading the TCP tables costs more
  // than a sample.
  function forgetGone(state, keeper, now) {
    let quiet = false;
    for (const [id, info] of state.clients) {
      const silent = now - info.lastSeen;
      if (silent > info.staleMs) forget(state, id);
      else if (silent > info.quietMs) quiet = true;
    }
    if (quiet && inspectorConnections(keeper) === 0) {
      for (const id of [...state.clients.keys()]) forget(state, id);
    }
  }

  function forget(state, id) {
    const info = state.clients.get(id);
    if (!info) return;
    state.clients.delete(id);
    info.loopDelay.stop();
  }

  function register(state, id, seconds) {
    const now = Date.now();
    if (state.clients.has(id)) return false;
    const intervalMs = 1000 * (Number(seconds) || 0);
    state.clients.set(id, {
      gc: state.gc.start(),
      loopDelay: createLoopDelay(requireFn('perf_hooks')),
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
    if (flags && flags.port) keeper.port = flags.port;
  }

  function schedule(keeper, ms) {
    if (keeper.timer) clearTimeout(keeper.timer);
    keeper.timer = setTimeout(keeper.check, ms);
    keeper.timer.unref();
  }

  // Connections to the inspector's port (the main thread's, in a worker), from this network namespace's TCP tables; null
  // when they cannot be read or the inspector is closed. The kernel serves a table a page
  // per read and resumes each read at a position, so a table that changes meanwhile (other
  // connections opening and closing) can skip rows: each table is read READS times and
  // the most rows seen counts.
  function inspectorConnections(keeper) {
    const url = requireFn('inspector').url();
    const port = url ? new URL(url).port : keeper.port;
    if (!port) return null;
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
      if (state) forget(state, client);
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
