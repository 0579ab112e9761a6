"""What the suites share: op tables, hook harness, subjects, draw helpers.

The suites (``conformance/test_*.py``) are test modules, never libraries: no
suite imports another, and nothing outside ``tests/`` imports a suite
(``tests/test_layout.py`` keeps it so). Whatever two suites, or a suite and
the Python API, need lives here, in a module named for what it holds.
"""
