"""One account's budgets across processes and machines. Knows no engine."""
