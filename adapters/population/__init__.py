"""The national population database's identity-verification service (docs/contracts/population-api.md).

- ``client.PopulationClient``: ``await client.verify(IdentityQuery(...)) -> Verification``; failures are
  ``errors.TransientPopulationError`` (retry later, ``retry_after``) or ``errors.PermanentPopulationError``.
- ``models``: ``IdentityQuery`` (``from_beneficiary`` builds one from a dossier's beneficiary),
  ``Verification``, ``MatchResult`` (KHOP / SAI_LECH / KHONG_TIM_THAY), ``normalize_name``.
- ``sandbox``: a strict simulator of the service, faults included (``gateway sandbox population``).
"""
