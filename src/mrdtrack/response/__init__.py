"""IMWG response engine (docs/response-rules.md): assessments, baseline, nadir, rules, confirmation, summaries."""

from mrdtrack.response.derive import derive_assessments
from mrdtrack.response.recorded import recorded_response_issues
from mrdtrack.response.summary import summarise_responses

__all__ = ["derive_assessments", "summarise_responses", "recorded_response_issues"]
