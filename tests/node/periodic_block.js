// Blocks its event loop in JavaScript for MS (default 500) every second, and prints the time
// each block ended: `unblocked <epoch ms>`.
const ms = Number(process.argv[2] || 500);
setInterval(() => {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* blocked */ }
  console.log(`unblocked ${Date.now()}`);
}, 1000);
console.log('ready');
