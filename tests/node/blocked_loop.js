// Blocks its event loop with synchronous JavaScript for BUSY_MS every PERIOD_MS (the loop of
// issue 9, point 0, which crashed Node when a memtui connected while another one's close ran).
const busyMs = Number(process.argv[2] || 600);
const periodMs = Number(process.argv[3] || 700);
setInterval(() => {
  const end = Date.now() + busyMs;
  while (Date.now() < end) { /* busy */ }
}, periodMs);
console.log('ready');
