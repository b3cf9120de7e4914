"""livebar's fault matrix: server faults, process events, load, bad input and security."""
