"""Static, offline HTML reports."""
from ._graph_report import graph_report

__all__ = ["graph_report"]
