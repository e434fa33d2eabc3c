"""Thin shim: Dataflow's ``--setup_file`` needs a setup.py. Metadata lives in pyproject.toml."""

import setuptools

setuptools.setup()
