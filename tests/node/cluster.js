// A cluster primary with `argv[2]` idle workers; prints 'ready' once all have started (run
// their code, not only come online). With `argv[3]` 'open-workers', each worker opens its own
// inspector (port 0) before it reports started.
// On stdin: 'fork' forks one more (prints 'forked PID' once started), 'fork-closed' one that
// leaves its inspector closed whatever `argv[3]`, 'exit' makes the newest worker exit with
// code 3 (prints 'exited PID').
const cluster = require('cluster');

if (cluster.isPrimary) {
  const wanted = Number(process.argv[2] || 4);
  let started = 0;
  cluster.on('message', (worker, message) => {
    if (message !== 'started') return;
    started += 1;
    if (started === wanted) console.log('ready');
    else if (started > wanted) console.log(`forked ${worker.process.pid}`);
  });
  cluster.on('exit', (worker) => console.log(`exited ${worker.process.pid}`));
  const opens = process.argv[3] === 'open-workers' ? '1' : '';
  for (let i = 0; i < wanted; i++) cluster.fork({ OPEN_INSPECTOR: opens });
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (data) => {
    for (const command of data.split('\n')) {
      if (command === 'fork') cluster.fork({ OPEN_INSPECTOR: opens });
      if (command === 'fork-closed') cluster.fork({ OPEN_INSPECTOR: '' });
      if (command === 'exit') {
        const workers = Object.values(cluster.workers);
        workers[workers.length - 1].send('exit');
      }
    }
  });
} else {
  if (process.env.OPEN_INSPECTOR) require('inspector').open(0, '127.0.0.1');
  process.on('message', (message) => { if (message === 'exit') process.exit(3); });
  process.send('started');
  setInterval(() => {}, 1000);
}
