"""Static, offline HTML reports."""
from ._analysis_report import write_analysis
from ._compare_report import write_comparison
from ._graph_report import graph_report
from ._view import script_json, write_view

__all__ = ["graph_report", "script_json", "write_analysis", "write_comparison", "write_view"]
