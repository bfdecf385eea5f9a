"""The province sandbox: plays a province's one-stop system against the gateway (province-api.md).

It receives and verifies the gateway's status callbacks (§4), with faults on demand, and posts
sample dossiers to the gateway (§2). ``app.create_app(config)`` builds the FastAPI app;
``server.serve(host, port, config)`` runs it under uvicorn; ``python -m adapters.province.sandbox``
does the same from a shell.
"""
