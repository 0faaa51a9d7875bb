"""Annotation keywords of the run report's JSON Schema beyond the standard vocabulary.

JSON Schema (2020-12) collects unknown keywords as annotations and never validates them, so
these add what a consumer needs but the schema cannot say: a DECIMAL column's precision and
scale (its values are JSON numbers, as a float's are), which a catalog table's
``decimal(p,s)`` column is made from (:mod:`etl_lib.jobs.catalog`). No imports: both the
report (in every conversion) and the API's catalog code read it.
"""

DECIMAL_ANNOTATION = "x-decimal"
"""``{"precision": p, "scale": s}`` on the schema of a DECIMAL(p,s) value."""
