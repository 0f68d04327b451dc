"""Pure, reusable dream operations. Each takes a snapshot and a context and returns an Outcome."""
