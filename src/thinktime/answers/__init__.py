"""Answers: extracting the final answer from a solution, deciding when two are equivalent, and
the one majority vote every strategy, pool replay and trace filter uses."""
