"""The study report (``report.html`` with figures and tables) and the patient page.

Presentation only: everything shown is read from an ``Analysis`` (``mrdtrack.pipeline``).
"""

from mrdtrack.report.html import SECTION_IDS, external_references, render_report, write_report

__all__ = ["SECTION_IDS", "external_references", "render_report", "write_report"]
