// Installs its own SIGUSR1 listener, which replaces Node's inspector handler.
process.on('SIGUSR1', () => console.log('got SIGUSR1'));
setInterval(() => {}, 1000);
console.log('ready');
