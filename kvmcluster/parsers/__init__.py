"""Parsers: text -> typed model. Pure functions; bad input raises ParseError."""
