// Alternates idle time with a long synchronous busy loop on the event loop.
const ms = Number(process.argv[2] || 3000);
setInterval(() => {}, 1000);
console.log('ready');
setTimeout(function block() {
  console.log('blocking');
  const end = Date.now() + ms;
  while (Date.now() < end) { /* busy */ }
  console.log('unblocked');
}, 1500);
