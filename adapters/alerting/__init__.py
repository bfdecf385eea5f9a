"""The operators' alert webhook (docs/contracts/alerts.md): the client that POSTs a signed alert
(``client.py``) and a small receiver that records what it got, with faults on demand (``sandbox.py``)."""
