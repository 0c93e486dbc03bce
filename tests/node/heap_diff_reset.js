// Writes MEMTUI_OUT/first.heapsnapshot and, after allocating 200 more Kept,
// MEMTUI_OUT/second.heapsnapshot through in-process inspector sessions. MEMTUI_SESSIONS=one
// takes both in one session; "two" disconnects the first session (which resets the heap
// object ids) and takes the second snapshot in a new one.
const fs = require('fs');
const inspector = require('inspector');
const path = require('path');

class Kept {
  constructor(index) {
    this.index = index;
  }
}
const cache = [];
for (let i = 0; i < 1000; i++) cache.push(new Kept(i));
setInterval(() => cache.length, 1000);

function openSession() {
  const session = new inspector.Session();
  session.connect();
  session.post('HeapProfiler.enable');
  return session;
}

function writeSnapshot(session, file) {
  return new Promise((resolve) => {
    const out = fs.openSync(file, 'w');
    const write = (message) => fs.writeSync(out, message.params.chunk);
    session.on('HeapProfiler.addHeapSnapshotChunk', write);
    session.post('HeapProfiler.takeHeapSnapshot', null, () => {
      session.off('HeapProfiler.addHeapSnapshotChunk', write);
      fs.closeSync(out);
      resolve();
    });
  });
}

async function main() {
  const out = process.env.MEMTUI_OUT;
  let session = openSession();
  await writeSnapshot(session, path.join(out, 'first.heapsnapshot'));
  for (let i = 0; i < 200; i++) cache.push(new Kept(1000 + i));
  if (process.env.MEMTUI_SESSIONS === 'two') {
    session.disconnect();
    session = openSession();
  }
  await writeSnapshot(session, path.join(out, 'second.heapsnapshot'));
  session.disconnect();
  console.log('ready');
}

main();
