"""The host process's machinery: signals, exit and exception hooks, fork."""
