// Prices an order; a negative price throws three calls below computeTotal,
// so the stack trace has frames of this file to map back.
export function computeTotal(items) {
  return items.reduce((sum, item) => sum + priceOf(item), 0);
}

function priceOf(item) {
  if (item.price < 0) {
    validatePrice(item);
  }
  return item.price * item.qty;
}

function validatePrice(item) {
  throw new Error(`negative price: ${item.price}`);
}
