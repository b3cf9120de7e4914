"""Private helpers of the integrations (tqdm, handles, training callbacks, notebooks, pandas)."""
