"""Security tests: authorization matrix, input limits, fuzzing (issue 6)."""
