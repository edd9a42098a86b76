"""What more than one test module uses, in one place; fixtures stay in the conftest files.

- ``services``: the test services: PostgreSQL (started by ``scripts/test-services.sh``, or a
  private server a test may stop), the GCS emulator, the Docker engine.
- ``shops``: the tiny shop with obvious tastes, for model tests on small frames.
- ``drops``: the valid base drop of the validate tests and the broken cases built on it
  (``tests/data/bad_inputs/``).
- ``pipeline``: the generated shop and parameters the kfp.local pipeline runs use.
- ``database``: run records and reads of the results tables.
- ``browser``: Debian's chromium, headless, for the tests that load a page (marker ``browser``).
- ``movielens_files``: MovieLens 100k, real when beside the clone, else a small look-alike.
- ``figures``, ``scan``, ``workers``: the reliability tests' figures, credential scanner, and
  the publisher and reader processes they kill. ``scan.py`` imports nothing from the project:
  the container tests mount it into the images as it is.
- ``manifests``: kustomize builds and Kubernetes schema validation at the kind node's
  version (the without-cluster and production tests).
- ``kfp_double``: a local double of the KFP v2beta1 API, strict about what it accepts
  (``burger-recs submit``, the schedule reconciler; the ``kfp_double`` fixture starts one).
- ``prod_lock``: production image locks made up for the current code.
- ``workflow_expressions``, ``workflow_jobs``: GitHub Actions expressions evaluated, and a
  workflow job's ``run`` steps run with stand-ins for the commands they call (tested beside
  them, ``test_workflow_*.py``).

Test modules import from here, never from a conftest or from another test module.
"""
