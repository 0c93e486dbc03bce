// Opens its inspector from JavaScript on a random port, so the command line does not tell it.
const inspector = require('inspector');
inspector.open(0, '127.0.0.1');
setInterval(() => {}, 1000);
console.log('ready ' + inspector.url());
