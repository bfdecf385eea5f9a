"""Payment adjustments: every recovery (truy thu) and back-payment (truy lĩnh) computed and sent, in one table."""
