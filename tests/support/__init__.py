"""What more than one test module uses, in one place; fixtures stay in the conftest files.

- ``services``: the test services: PostgreSQL (started by ``scripts/test-services.sh``, or a
  private server a test may stop), the GCS emulator, the Docker engine.
- ``shops``: the tiny shop with obvious tastes, for model tests on small frames.
- ``drops``: the valid base drop of the validate tests and the broken cases built on it
  (``tests/data/bad_inputs/``).
- ``pipeline``: the generated shop and parameters the kfp.local pipeline runs use.
- ``database``: run records and reads of the results tables.
- ``movielens_files``: MovieLens 100k, real when beside the clone, else a small look-alike.
- ``figures``, ``scan``, ``workers``: the reliability tests' figures, credential scanner, and
  the publisher and reader processes they kill. ``scan.py`` imports nothing from the project:
  the container tests mount it into the images as it is.

Test modules import from here, never from a conftest or from another test module.
"""
