// Keeps `Order` objects in a module-level array; each line on stdin adds 500 more.
class Order {
  constructor(i) { this.id = i; this.lines = [i]; }
}
const orders = [];
let next = 0;
const grow = () => { for (let i = 0; i < 500; i++) orders.push(new Order(next++)); };
grow();
setInterval(() => {}, 1000);
process.stdin.on('data', () => { grow(); console.log('grown ' + orders.length); });
console.log('ready');
