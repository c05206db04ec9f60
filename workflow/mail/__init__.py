"""Outgoing email: building messages, rendering templates, sending them."""
