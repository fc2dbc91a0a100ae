"""Request messages by family (see wq/protocol/messages.py)."""
