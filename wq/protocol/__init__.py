"""The client/server protocol: length-prefixed JSON frames of versioned, typed messages."""
