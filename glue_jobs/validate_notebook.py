"""The scheduled validation Glue job (Spark, Glue 6.0): runs notebooks/03-validate-output.ipynb
with papermill over the recent SUCCEEDED jobs and fails when one does not validate.

Everything is in ``etl_lib.notebook.validate_jobs.glue_main`` (the etl_lib wheel, papermill
and ipykernel come with --additional-python-modules; the notebook with --extra-files), so
``etl validate`` runs the same code locally. Deployed by infra/pipeline/validation.py.
"""

import sys

from etl_lib.notebook.validate_jobs import glue_main

if __name__ == "__main__":
    if glue_main(sys.argv[1:]) != 0:
        # An exception, not an exit status, is what fails a Glue Spark job run.
        raise RuntimeError("scheduled validation failed: see the summary under the output bucket's validation/")
