// Holds a heap of many small objects so that a snapshot takes a noticeable time.
const count = Number(process.argv[2] || 1500000);
globalThis.kept = Array.from({ length: count }, (_, i) => ({ i, name: 'item' + i }));
setInterval(() => {}, 1000);
console.log('ready');
