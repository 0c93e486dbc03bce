// Listens on 127.0.0.1:PORT (its first argument) with a plain TCP server, and stays alive.
require('net').createServer().listen(Number(process.argv[2]), '127.0.0.1',
  () => console.log('ready'));
