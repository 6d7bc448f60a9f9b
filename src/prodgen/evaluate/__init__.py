"""Evaluation and reports."""

from .run_report import plot_metrics, plot_quality, quality_records, write_run_report

__all__ = ["plot_metrics", "plot_quality", "quality_records", "write_run_report"]
