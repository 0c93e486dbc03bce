// A second, unrelated class also named Customer, declared at a different place.

class Customer {
  constructor(name) {
    this.name = name;
  }
}
module.exports = Customer;
