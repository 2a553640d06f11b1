"""FinView infrastructure: one definition, provisioned into the local AWS or rendered for real AWS."""
