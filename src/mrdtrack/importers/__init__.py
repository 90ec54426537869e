"""Cohort sources beyond the contract folder: OMOP CDM and FHIR (docs/omop.md).

A source turns its rows into the data contract's tables (``facts`` for results, ``window`` for
the data cut and windows, the phase rules for therapy) plus an import log (``log``); the
contract's own validation then builds the Cohort, so every analysis is the same code.
"""
