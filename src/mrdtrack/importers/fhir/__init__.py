"""The FHIR R4 door (docs/fhir.md): a Bulk Data export or Bundles -> the data contract's tables.

``source`` finds the files, ``parse`` and ``extract`` read them (orjson, one small extractor per
resource type, worker processes), ``resolve`` handles references and dates, ``resources`` and
``medications`` turn each resource type into source-neutral frames, ``convert`` runs them through
the shared mapping, facts, window and phase modules; ``export`` writes contract tables as FHIR.
"""
