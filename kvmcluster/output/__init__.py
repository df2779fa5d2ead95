"""Renderers of a Report's findings: the Nagios answer (nagios.py), the status screen and
JSON (status.py). Model in, text out: no source, parser or rule is imported here."""
