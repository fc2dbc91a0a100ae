"""Text to model: cluster files, job files and requirement strings.

Everything here validates at the edge and raises ParseError naming the
source, line and key. Nothing here knows about the server.
"""
