"""KFP component definitions: thin wiring around burger_recs.steps, one module per step."""
