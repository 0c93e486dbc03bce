// A closure leak (the "replaceThing" pattern): each new thing's method closes over a context
// that also holds the previous thing, so every thing ever made stays reachable through
// `theThing`. Each line on stdin replaces the thing 1000 more times.
'use strict';
let theThing = null;
let replaced = 0;

function replaceThing() {
  const originalThing = theThing;
  const unused = function () { return originalThing ? 'hi' : ''; };
  theThing = {
    longStr: new Array(200).join('*') + replaced,
    someMethod: function () { return unused; },
  };
  replaced++;
}

const grow = () => { for (let i = 0; i < 1000; i++) replaceThing(); };
grow();
setInterval(() => {}, 1000);
process.stdin.on('data', () => { grow(); console.log(`grown ${replaced}`); });
console.log('ready');
