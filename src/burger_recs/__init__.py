"""burger-recs: daily burger-combo recommendations, as a Kubeflow Pipelines component suite."""

__version__ = "0.1.0"
