"""The population sandbox: a strict simulator of the identity-verification service (contracts/population-api.md).

Routes: ``POST /oauth2/token`` (scope ``dancu.xacthuc``), ``POST /api/v1/cong-dan/xac-thuc``; under
``/_sandbox``: ``health``, ``faults`` (GET/PUT/PATCH, the ministry sandbox's shape), ``expire-tokens``,
``reset``, ``requests`` (the request log, ID numbers masked, no names or dates), ``people`` (GET, POST to
seed, DELETE; ``people/{soDinhDanh}`` GET/DELETE). It starts with ``people.DEFAULT_PEOPLE`` (the province
samples' beneficiary, so the samples verify KHOP; a person recorded dead; one born in a year only).

``app.create_app(config)`` builds the app; ``server.serve(host, port, config)`` runs it; from a shell,
``gateway sandbox population --port 8003`` or ``python -m adapters.population.sandbox``.
"""

from adapters.population.sandbox.people import DEFAULT_PEOPLE, Person, default_people

__all__ = ["DEFAULT_PEOPLE", "Person", "default_people"]
