// Builds a realistic object graph and writes two heap snapshots of it for bench/heap_parse.py.
// Usage: node make_big_snapshot.js FIRST SECOND [customers=60000]
// FIRST is written after the graph is built; SECOND after more allocation (new orders,
// a new class, some customers dropped), from the same process so heap ids are comparable.
'use strict';
const v8 = require('v8');

const [first, second] = process.argv.slice(2, 4);
const customerCount = Number(process.argv[4] || 60000);
if (!first || !second) {
  console.error('usage: node make_big_snapshot.js FIRST SECOND [customers]');
  process.exit(2);
}

class Customer {
  constructor(id) {
    this.id = id;
    this.name = `customer-${id}`;
    this.email = `c${id}@example.${id % 7 === 0 ? 'org' : 'com'}`;
    this.orders = [];
    this.preferences = new Map([['lang', id % 3 ? 'en' : 'fr'], ['tier', id % 5]]);
    this.onChange = () => this.orders.length;
  }
}

class Order {
  constructor(id, customer) {
    this.id = id;
    this.customer = customer;
    this.createdAt = new Date(1700000000000 + id * 1000);
    this.lines = [];
    this.note = id % 4 === 0 ? `gift for order ${id}` : null;
  }
}

class AuditEntry {
  constructor(order, action) {
    this.order = order;
    this.action = action;
    this.detail = { at: order.id, by: `user-${order.id % 101}` };
  }
}

const customers = [];
const ordersById = new Map();
let nextOrder = 0;

function addOrder(customer, lines) {
  const order = new Order(nextOrder++, customer);
  for (let k = 0; k < lines; k++) {
    order.lines.push({ sku: `sku-${(order.id * 31 + k) % 40009}`, qty: k + 1, price: 1.5 * k });
  }
  customer.orders.push(order);
  ordersById.set(order.id, order);
  return order;
}

for (let i = 0; i < customerCount; i++) {
  const customer = new Customer(i);
  customers.push(customer);
  for (let o = 0; o < 3; o++) addOrder(customer, 2 + (i + o) % 3);
}
v8.writeHeapSnapshot(first);
console.log(JSON.stringify({ written: first }));

const audit = [];
for (let i = 0; i < customers.length; i += 2) {
  const order = addOrder(customers[i], 3);
  audit.push(new AuditEntry(order, i % 3 ? 'created' : 'refunded'));
}
for (let i = 0; i < customers.length; i += 10) {
  for (const order of customers[i].orders) ordersById.delete(order.id);
  customers[i] = null;
}
v8.writeHeapSnapshot(second);
console.log(JSON.stringify({ written: second, audit: audit.length }));
