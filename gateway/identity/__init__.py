"""The identity check: a new revision's beneficiary against the national population database, before delivery."""
