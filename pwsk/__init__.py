"""pwsk: a self-hosted serverless platform that speaks Apache OpenWhisk's REST API.

This is the shared core package: entities, names, wire schemas, errors, settings, the
store / bus / registry interfaces with their implementations, the REST client and the CLI.
Service packages (``controller``, ``invoker``, ``gateway``, ``bridge``) import from here and
never from each other.
"""

__version__ = "0.1.0"
