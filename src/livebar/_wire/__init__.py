"""The ActivitySmith API on the wire: checks, payloads, errors, retries, configuration and
the client. Knows nothing of activities, threads or ledgers."""
