"""Churn analytics: members, churn, MRR and cohorts per month, computed from the stored billing history."""

from __future__ import annotations

from storefront.churn.compute import MAX_MONTHS, ChurnReports, MonthsOutOfRange, churn_report, compute_churn
from storefront.churn.report import (
    REPORT_SCHEMA,
    AtRiskMember,
    ChurnReport,
    Cohort,
    Comment,
    MonthFigures,
    MrrMovement,
    TierMonth,
    report_csv,
    report_json,
)
from storefront.churn.summary import churn_summary_text, format_rate

__all__ = [
    "MAX_MONTHS",
    "REPORT_SCHEMA",
    "AtRiskMember",
    "ChurnReport",
    "ChurnReports",
    "Cohort",
    "Comment",
    "MonthFigures",
    "MonthsOutOfRange",
    "MrrMovement",
    "TierMonth",
    "churn_report",
    "churn_summary_text",
    "compute_churn",
    "format_rate",
    "report_csv",
    "report_json",
]
