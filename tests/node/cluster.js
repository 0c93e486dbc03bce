// A cluster primary with `argv[2]` idle workers; prints 'ready' once all are online. With
// `argv[3]` 'open-workers', each worker opens its own inspector (port 0) as it starts.
// On stdin: 'fork' forks one more (prints 'forked PID' once online), 'exit' makes the
// newest worker exit with code 3 (prints 'exited PID').
const cluster = require('cluster');

if (cluster.isPrimary) {
  const wanted = Number(process.argv[2] || 4);
  let online = 0;
  cluster.on('online', (worker) => {
    online += 1;
    if (online === wanted) console.log('ready');
    else if (online > wanted) console.log(`forked ${worker.process.pid}`);
  });
  cluster.on('exit', (worker) => console.log(`exited ${worker.process.pid}`));
  for (let i = 0; i < wanted; i++) cluster.fork();
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (data) => {
    for (const command of data.split('\n')) {
      if (command === 'fork') cluster.fork();
      if (command === 'exit') {
        const workers = Object.values(cluster.workers);
        workers[workers.length - 1].send('exit');
      }
    }
  });
} else {
  if (process.argv[3] === 'open-workers') require('inspector').open(0, '127.0.0.1');
  process.on('message', (message) => { if (message === 'exit') process.exit(3); });
  setInterval(() => {}, 1000);
}
