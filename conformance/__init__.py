"""Conformance suites for PyTorch's nn semantics.

The suites are the ``test_*.py`` modules in this package: run them with
``pytest --pyargs conformance`` (installed) or ``pytest conformance`` (from a
checkout). Importing this package imports nothing heavy: the pytest plugin
(:mod:`conformance.plugin`) is loaded by every pytest run of a project that
has the kit installed, and must cost nothing there.
"""
