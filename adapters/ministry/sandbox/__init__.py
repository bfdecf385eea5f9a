"""The ministry sandbox: a simulator of the social-assistance software's API v1 (contracts/ministry-api.md).

``app.create_app(config)`` builds the FastAPI app; ``server.serve(host, port, config)`` runs it
under uvicorn; ``python -m adapters.ministry.sandbox --port 8001`` does the same from a shell.
"""
