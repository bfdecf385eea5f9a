"""What the peer clients share: the error base and its classification, OAuth 2.0 client credentials,
one authorised exchange with its log line, and a client-side rate budget.

Each peer (``adapters/ministry``, ``adapters/population``) names its own errors and wording on top;
nothing here knows a peer's paths or codes beyond the ones their contracts share (ministry-api §1–2).
"""
