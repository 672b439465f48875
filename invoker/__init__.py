"""The invoker: consumes activation messages, runs actions in a container pool, records them."""
