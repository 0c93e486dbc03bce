// Keeps `Order` objects in a module-level array; each line on stdin adds 500 more.
// Orders carry six fields and no arrays, so they lead any diff by size.
class Order {
  constructor(i) {
    this.id = i;
    this.customer = i % 97;
    this.total = i * 3;
    this.status = 1;
    this.createdAt = i + 1000;
    this.note = null;
  }
}
const orders = [];
let next = 0;
const grow = () => { for (let i = 0; i < 500; i++) orders.push(new Order(next++)); };
grow();
setInterval(() => {}, 1000);
process.stdin.on('data', () => { grow(); console.log('grown ' + orders.length); });
console.log('ready');
