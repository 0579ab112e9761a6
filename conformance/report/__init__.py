"""Conformance reports: what a run leaves behind, and merging and diffing them.

``pytest ... --conformance-report DIR`` writes ``conformance.json`` (following
``schema.json``, version ``conformance-report/1``), ``conformance.md`` and
``conformance.html`` into DIR; ``python -m conformance.report merge|diff``
combines and compares them.

- :mod:`~conformance.report.collect`: the pytest hooks that gather records
- :mod:`~conformance.report.io`: validating, loading and atomically writing
- :mod:`~conformance.report.combine`: merging reports and summarising records
- :mod:`~conformance.report.diff`: what changed between two reports
- :mod:`~conformance.report.matrix`: checks x device/dtype, shared by the renderers
- :mod:`~conformance.report.render_md`, :mod:`~conformance.report.render_html`

Importing this package imports nothing heavy (the plugin may import it).
"""

SCHEMA_VERSION = "conformance-report/1"
FILE_NAMES = ("conformance.json", "conformance.md", "conformance.html")
