"""Conformance reports: what a run leaves behind, and merging and diffing them.

``pytest ... --conformance-report DIR`` writes ``conformance.json`` (following
``schema.json``, version ``conformance-report/2``), ``conformance.md`` and
``conformance.html`` into DIR; ``python -m conformance.report merge|diff``
combines and compares them.

- :mod:`~conformance.report.collect`: the pytest hooks that gather records
- :mod:`~conformance.report.io`: validating, loading and atomically writing
- :mod:`~conformance.report.output`: whether a report directory can be written
- :mod:`~conformance.report.combine`: merging reports and summarising records
- :mod:`~conformance.report.completeness`: whether a run finished; version 1 upgraded
- :mod:`~conformance.report.diff`: what changed between two reports
- :mod:`~conformance.report.links`: the http(s) links in a reason
- :mod:`~conformance.report.matrix`: checks x device/dtype, shared by the renderers
- :mod:`~conformance.report.render_md`, :mod:`~conformance.report.render_html`

Importing this package imports nothing heavy (the plugin may import it).
"""

#: What this kit writes. Version 2 added ``complete`` (report and run) and
#: ``incomplete_reason`` (run), ``reason`` and ``links`` (record): the schema is
#: closed, so a version-1 reader must refuse these files rather than misread them.
SCHEMA_VERSION = "conformance-report/2"
#: What this kit reads: version-1 files stay readable (completeness is then
#: taken from each run's ``interrupted``).
READABLE_VERSIONS = ("conformance-report/1", SCHEMA_VERSION)
FILE_NAMES = ("conformance.json", "conformance.md", "conformance.html")
