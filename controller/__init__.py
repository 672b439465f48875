"""The controller: OpenWhisk's REST API v1 over a store, a bus and a pool of invokers."""
