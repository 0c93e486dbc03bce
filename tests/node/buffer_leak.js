// An off-heap leak: keeps a 64 KiB Buffer every 20 ms (about 3 MiB a second of external
// memory and array buffers) while the JS heap barely grows.
const kept = [];
setInterval(() => {
  kept.push(Buffer.alloc(64 * 1024, 1));
}, 20);
console.log('ready');
