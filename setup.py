"""For Beam's `--setup_file ./setup.py` only: Beam builds a source distribution of the project with it and
installs that on every remote worker (Dataflow, Flink and Spark workers in Beam's SDK container). The
metadata, packages and dependencies are all in pyproject.toml; setuptools reads them from there."""

from setuptools import setup

setup()
