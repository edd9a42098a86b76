"""Pipeline definitions (wiring only); compiled/ holds the checked-in IR."""
