"""Importers: turn clinical databases (OMOP CDM, FHIR R4) into the contract's tables."""
