"""Verifiers: answer extraction (`extract`), equivalence (`equivalence`), and scorers that judge
candidate solutions (`base` protocol + registry, `judge`). Import the submodule you need."""
