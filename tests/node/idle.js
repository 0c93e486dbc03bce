// Does nothing but stay alive, so attach has a quiet target.
setInterval(() => {}, 1000);
console.log('ready');
