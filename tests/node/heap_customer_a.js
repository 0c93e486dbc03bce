// A class named Customer; heap_customer_b.js declares another one with the same name.
class Customer {
  constructor(id) {
    this.id = id;
    this.source = 'a';
  }
}
module.exports = Customer;
