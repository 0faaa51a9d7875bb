"""papermill parameters for the AWS Glue interactive-session kernels.

papermill picks a parameter translator by kernel name, then by the notebook's language
(``metadata.language_info.name``). The ``glue_pyspark`` kernel reports its language as
``Python_Glue_Session``, which papermill (2.7) does not know, so ``papermill -k
glue_pyspark -p x 1`` fails with "No parameter translator functions specified".

papermill has no entry-point group for translators, but it loads every
``papermill.engine`` entry point when it is imported. The project declares one
(``etl_glue`` in pyproject.toml) pointing at :class:`GlueEngine` in this module; importing
the module registers the translators, so any ``papermill`` command or
``papermill.execute_notebook`` call in this environment can parameterize Glue notebooks.
:class:`GlueEngine` itself is papermill's default nbclient engine, unchanged.
"""

from __future__ import annotations

from papermill.engines import NBClientEngine
from papermill.translators import PythonTranslator, ScalaTranslator, papermill_translators

GLUE_TRANSLATORS = {
    "Python_Glue_Session": PythonTranslator,  # language of the glue_pyspark kernel
    "glue_pyspark": PythonTranslator,  # kernel names, for notebooks without language_info
    "glue_spark": ScalaTranslator,
}


def register() -> None:
    """Register the Glue translators with papermill (idempotent)."""
    for name, translator in GLUE_TRANSLATORS.items():
        papermill_translators.register(name, translator)


class GlueEngine(NBClientEngine):
    """papermill's nbclient engine; declared as an entry point so this module is imported."""


register()
