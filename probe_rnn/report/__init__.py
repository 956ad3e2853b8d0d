"""The HTML report: findings, figures, projections and tables of one run folder.

``build_report(run_dir)`` reads the files the pipeline wrote and renders one self-contained
``index.html`` (plotly runtime embedded once, CSP, Jinja2 autoescape) without recomputing.
"""

from probe_rnn.report.build import Report, build_report
from probe_rnn.report.findings import Finding, make_findings

__all__ = ["Report", "build_report", "Finding", "make_findings"]
