// Sets process.title, which overwrites the process's command line (its options with it),
// as pm2 and many services do; prints 'ready'.
process.title = 'titled-service';
console.log('ready');
setInterval(() => {}, 1000);
