"""Typed models shared by every input format that describes the same thing."""
