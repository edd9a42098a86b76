"""The KFP wiring above the components: the pipeline, its compiler and the local runner.

The compiled IR is checked in at the repository's pipelines/compiled/.
"""
