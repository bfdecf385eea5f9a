"""Administration: the transaction log, replay, cancel, audit, stats and retention."""
