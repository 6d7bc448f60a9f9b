"""Evaluation and reports."""

from .run_report import plot_metrics, write_run_report

__all__ = ["plot_metrics", "write_run_report"]
