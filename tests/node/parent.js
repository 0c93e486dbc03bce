// A Node process with one Node child (child_process.fork, as pm2's fork mode starts an
// app); prints 'child PID' once the child runs. The child exits when its parent does.
const { fork } = require('child_process');

if (process.argv[2] === 'child') {
  process.on('disconnect', () => process.exit(0));
  process.send('started');
  setInterval(() => {}, 1000);
} else {
  const child = fork(__filename, ['child']);
  child.on('message', () => console.log(`child ${child.pid}`));
  setInterval(() => {}, 1000);
}
