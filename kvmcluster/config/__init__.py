"""Cluster descriptions and the config files made from them: generate, lint, import."""
