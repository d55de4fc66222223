"""Tables of the case module (intake, back office, issuance, evaluations); same metadata as schema.py."""
