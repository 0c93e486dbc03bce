// Stays alive until a line 'exit' on stdin, then ends with process.exit(3).
process.stdin.setEncoding('utf8');
process.stdin.on('data', (data) => { if (data.includes('exit')) process.exit(3); });
setInterval(() => {}, 1000);
console.log('ready');
