"""Delivery: the only part of livebar that talks to the network (through the client)."""
