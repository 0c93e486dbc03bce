// Blocks its main thread in a native call (execSync), where the inspector cannot answer.
const { execSync } = require('child_process');
const seconds = Number(process.argv[2] || 5);
setInterval(() => {}, 1000);
console.log('ready');
process.stdin.on('data', () => {
  console.log('blocking');
  execSync(`sleep ${seconds}`);
  console.log('unblocked');
});
