// Worker threads for memtui's worker tests; the main thread's heap stays flat.
// stdin commands, one a line (each answered by a line naming the worker's threadId):
//   leak         a worker that keeps 10,000 WorkerLeak objects more on each `grow`
//   grow ID      that leaking worker grows once (answers "grown ID COUNT")
//   idle         a worker that only waits
//   busy         a worker that spins in a busy loop until it exits
//   big          a worker holding 50,000 small objects (its snapshot takes a moment)
//   exit ID      that worker exits (a busy one too: it polls a shared flag)
//   kill ID      the main thread terminates that worker (worker.terminate())
//   block ID     that worker blocks 3 s in native code (a child process it waits for)
//                (answers "unblocked ID")
//   probe ID     that worker says whether memtui's probe or keeper is in it
//                ("probe ID present" or "probe ID absent")
//   cycle        the main thread closes its inspector and opens it again on the same port
//                half a second later (answers "closed", then "reopened")
'use strict';
const { Worker } = require('worker_threads');

const WORKER = `
'use strict';
const { parentPort, workerData } = require('worker_threads');
const stop = new Int32Array(workerData.stop);
class WorkerLeak {
  constructor(n) { this.n = n; this.label = 'leaked ' + n; }
}
const kept = [];
parentPort.on('message', (message) => {
  if (message === 'exit') process.exit(0);
  if (message === 'grow') {
    for (let i = 0; i < 10000; i++) kept.push(new WorkerLeak(kept.length));
    parentPort.postMessage('grown ' + kept.length);
  }
  if (message === 'block') {
    require('child_process').execFileSync('sleep', ['3']);
    parentPort.postMessage('unblocked');
  }
  if (message === 'probe') {
    const there = globalThis[Symbol.for('memtui.probe')] || globalThis[Symbol.for('memtui.keeper')];
    parentPort.postMessage('probe ' + (there ? 'present' : 'absent'));
  }
});
if (workerData.kind === 'busy') {
  while (Atomics.load(stop, 0) === 0) { /* spin */ }
  process.exit(0);
}
if (workerData.kind === 'big') {
  for (let i = 0; i < 50000; i++) kept.push({ i, s: 'x' + i });
}
setInterval(() => {}, 1000);
parentPort.postMessage('started');
`;

const workers = new Map();
function start(kind) {
  const stop = new SharedArrayBuffer(4);
  const worker = new Worker(WORKER, { eval: true, name: kind, workerData: { kind, stop } });
  workers.set(worker.threadId, { worker, stop: new Int32Array(stop) });
  const id = worker.threadId;
  worker.on('message', (message) => {
    if (message === 'started') console.log(`started ${kind} ${id}`);
    else if (message === 'unblocked') console.log(`unblocked ${id}`);
    else console.log(`${message.split(' ')[0]} ${id} ${message.split(' ')[1]}`);
  });
  worker.on('exit', () => { workers.delete(id); console.log(`exited ${id}`); });
  if (kind === 'busy') console.log(`started ${kind} ${id}`);
}

function cycle() {
  const inspector = require('inspector');
  const port = Number(new URL(inspector.url()).port);
  inspector.close();
  console.log('closed');
  setTimeout(() => { inspector.open(port, '127.0.0.1'); console.log('reopened'); }, 500);
}

let buffered = '';
process.stdin.on('data', (data) => {
  buffered += data;
  let newline;
  while ((newline = buffered.indexOf('\n')) >= 0) {
    const [command, arg] = buffered.slice(0, newline).trim().split(' ');
    buffered = buffered.slice(newline + 1);
    const found = workers.get(Number(arg));
    if (command === 'grow' && found) found.worker.postMessage('grow');
    else if ((command === 'probe' || command === 'block') && found) {
      found.worker.postMessage(command);
    }
    else if (command === 'kill' && found) found.worker.terminate();
    else if (command === 'cycle') cycle();
    else if (command === 'exit' && found) {
      Atomics.store(found.stop, 0, 1);
      found.worker.postMessage('exit');
    } else if (command) start(command);
  }
});
setInterval(() => {}, 1000);
console.log('ready');
