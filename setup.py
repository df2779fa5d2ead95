"""For the tools that still run setup.py (Debian's pybuild, the RPM %py3_build macros): the
project itself is configured in setup.cfg and pyproject.toml."""

from setuptools import setup

setup()
