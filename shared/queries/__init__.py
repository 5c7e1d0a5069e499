"""Read-only queries over tables one service writes and another reads (the row is the contract)."""
