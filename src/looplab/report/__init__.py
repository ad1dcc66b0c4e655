"""Static, offline HTML reports."""
from ._analysis_report import write_analysis
from ._compare_report import write_comparison
from ._graph_report import graph_report

__all__ = ["graph_report", "write_analysis", "write_comparison"]
