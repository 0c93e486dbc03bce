// Allocates hard and keeps nothing: every 10 ms it fills and drops 4 MiB of arrays, so the
// GC runs all the time (GC pressure, no leak).
'use strict';
let sink = 0;
setInterval(() => {
  for (let i = 0; i < 64; i++) sink += new Array(8192).fill(i).length;
}, 10);
console.log('ready');
